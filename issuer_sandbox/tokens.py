"""OAuth2 client credentials: check a partner's secret and issue short-lived bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from .extensions import db
from .models import AccessToken, PartnerClient

API_SCOPE = "/api"


class InvalidClient(Exception):
    """Unknown client_id or wrong secret (deliberately the same error for both)."""


def token_hash(token: str) -> str:
    """SHA-256 of a bearer token: the only form in which it is stored (same as api.auth.hash_token)."""
    return hashlib.sha256(token.encode()).hexdigest()


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


def authenticate_client(client_id: str, client_secret: str) -> PartnerClient:
    """The partner with these credentials, or InvalidClient."""
    client = db.session.scalar(sa.select(PartnerClient).where(PartnerClient.client_id == client_id))
    if client is None:
        # Hash anyway, so an unknown client_id takes as long as a wrong secret.
        client_secret_matches(_dummy_hash(), client_secret)
        raise InvalidClient("Unknown client or wrong secret.")
    if not client_secret_matches(client.secret_hash, client_secret):
        raise InvalidClient("Unknown client or wrong secret.")
    return client


def issue_token(client: PartnerClient, now: datetime, ttl_seconds: int, scope: str = API_SCOPE) -> str:
    """A new random bearer token for the client, valid for ttl_seconds of sandbox time; commits, returns it."""
    token = secrets.token_urlsafe(32)
    # Housekeeping: tokens of this client that have already expired are of no further use.
    db.session.execute(
        sa.delete(AccessToken).where(AccessToken.partner_client_id == client.id, AccessToken.expires_at <= now)
    )
    db.session.add(
        AccessToken(
            token_hash=token_hash(token),
            partner_client_id=client.id,
            scope=scope,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    db.session.commit()
    return token
