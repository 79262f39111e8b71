"""OAuth2 client credentials: check a partner's secret and issue short-lived bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from .errors import RuleError
from .extensions import db
from .models import AccessToken, PartnerClient

API_SCOPE = "/api"


class InvalidClient(RuleError):
    """Unknown client_id or wrong secret (deliberately the same error for both)."""

    status = 401
    code = "invalidClient"

    def extra_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="Summit Bank partner API"'}


# Expired tokens are deleted by a token call at most once a minute per process, not by every call.
HOUSEKEEPING_INTERVAL_SECONDS = 60
_next_housekeeping = 0.0


@dataclass(frozen=True)
class Partner:
    """The partner a bearer token belongs to: what the rules need of it, read with the token in one query."""

    id: int
    client_id: str
    merchant_name: str


def token_hash(token: str) -> str:
    """SHA-256 of a bearer token: the only form in which it is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def partner_for_token(token: str, now: datetime) -> Partner | None:
    """The partner of a live bearer token; None for an unknown or expired one."""
    row = db.session.execute(
        sa.select(AccessToken.expires_at, PartnerClient.id, PartnerClient.client_id, PartnerClient.merchant_name)
        .join(PartnerClient, PartnerClient.id == AccessToken.partner_client_id)
        .where(AccessToken.token_hash == token_hash(token))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return Partner(row.id, row.client_id, row.merchant_name)


SECRET_DIGEST_PREFIX = "sha256$"


def hash_client_secret(secret: str) -> str:
    """The stored form of a partner's client secret.

    Client secrets are machine-generated, high-entropy API credentials (like bearer tokens), so a SHA-256
    digest is enough and keeps every token call cheap; a slow password hash here would serialise token
    requests behind SQLite's write lock.
    """
    return SECRET_DIGEST_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def client_secret_matches(stored: str, secret: str) -> bool:
    """Constant-time check of a secret against its stored form (a werkzeug hash is still accepted)."""
    if stored.startswith(SECRET_DIGEST_PREFIX):
        return hmac.compare_digest(stored, hash_client_secret(secret))
    return check_password_hash(stored, secret)


@cache
def _dummy_hash() -> str:
    return hash_client_secret(secrets.token_urlsafe(16))


_partners = PartnerClient.__table__
_CLIENT_BY_ID = sa.select(
    _partners.c.id, _partners.c.client_id, _partners.c.merchant_name, _partners.c.secret_hash
).where(_partners.c.client_id == sa.bindparam("client_id"))
_INSERT_TOKEN = sa.insert(AccessToken.__table__)


def authenticate_client(client_id: str, client_secret: str) -> Partner:
    """The partner with these credentials, or InvalidClient."""
    client = db.session.execute(_CLIENT_BY_ID, {"client_id": client_id}).first()
    if client is None:
        # Hash anyway, so an unknown client_id takes as long as a wrong secret.
        client_secret_matches(_dummy_hash(), client_secret)
        raise InvalidClient("Unknown client or wrong secret.")
    if not client_secret_matches(client.secret_hash, client_secret):
        raise InvalidClient("Unknown client or wrong secret.")
    return Partner(client.id, client.client_id, client.merchant_name)


def issue_token(client: Partner | PartnerClient, now: datetime, ttl_seconds: int, scope: str = API_SCOPE) -> str:
    """A new random bearer token for the client, valid for ttl_seconds of sandbox time; commits, returns it."""
    global _next_housekeeping
    token = secrets.token_urlsafe(32)
    if time.monotonic() >= _next_housekeeping:
        _next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL_SECONDS
        # Tokens of this client that have already expired are of no further use.
        db.session.execute(
            sa.delete(AccessToken).where(AccessToken.partner_client_id == client.id, AccessToken.expires_at <= now)
        )
    db.session.execute(
        _INSERT_TOKEN,
        {
            "token_hash": token_hash(token),
            "partner_client_id": client.id,
            "scope": scope,
            "issued_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
        },
    )
    db.session.commit()
    return token
