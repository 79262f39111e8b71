"""OAuth2 client credentials: check a partner's secret and issue short-lived bearer tokens.

A bearer token is stateless: ``pwp1.<partner id>.<expiry>.<token id>.<signature>``, where the signature is an
HMAC-SHA256, under a key derived from the app's SECRET_KEY, of those fields and of the partner row as it stands
(client_id, secret hash, created_at). Issuing one writes nothing and checking one needs only the partner's row,
which the call's context reads anyway. Revocation follows from what is signed: a new client secret, or a reset
that recreates the partner, makes every token issued before it unknown; a new SECRET_KEY revokes them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from .errors import RuleError
from .extensions import db
from .models import PartnerClient

API_SCOPE = "/api"


class InvalidClient(RuleError):
    """Unknown client_id or wrong secret (deliberately the same error for both)."""

    status = 401
    code = "invalidClient"

    def extra_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="Summit Bank partner API"'}


TOKEN_PREFIX = "pwp1"
_EPOCH = datetime(1970, 1, 1)  # expiries travel as microseconds since, in sandbox time
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Partner:
    """The partner a bearer token belongs to: what the rules need of it, read with the token in one query."""

    id: int
    client_id: str
    merchant_name: str


@dataclass(frozen=True)
class TokenClaims:
    """What a bearer token says before its signature is checked against the partner's row."""

    partner_id: int
    expires_us: int
    token_id: str
    signature: str


@lru_cache(maxsize=8)
def _signing_key(secret_key: str) -> bytes:
    """The token-signing key: derived from SECRET_KEY, so it signs nothing else the app signs."""
    return hmac.new(secret_key.encode(), b"pay-with-points access token v1", hashlib.sha256).digest()


def _signature(
    key: str, partner_id: int, expires_us: int, token_id: str, client_id: str, secret_hash: str, created: datetime
) -> str:
    message = f"{partner_id}.{expires_us}.{token_id}|{client_id}|{secret_hash}|{created.isoformat()}"
    digest = hmac.new(_signing_key(key), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def read_claims(token: str) -> TokenClaims | None:
    """The claims of a well-formed token (not yet trusted), or None for anything else."""
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != TOKEN_PREFIX or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    if len(parts[1]) > 18 or len(parts[2]) > 20:
        return None  # ids and times that no database column holds
    return TokenClaims(int(parts[1]), int(parts[2]), parts[3], parts[4])


def verify_token(
    key: str, claims: TokenClaims, now: datetime, client_id: str, secret_hash: str, created: datetime
) -> bool:
    """True when the claims were signed for this partner row with this key and have not expired at ``now``."""
    expected = _signature(key, claims.partner_id, claims.expires_us, claims.token_id, client_id, secret_hash, created)
    if not hmac.compare_digest(expected, claims.signature):
        return False
    return now < _EPOCH + timedelta(microseconds=claims.expires_us)


_partners = PartnerClient.__table__
# What a token is signed over, with what the rules need of the partner.
_PARTNER_COLUMNS = (
    _partners.c.id,
    _partners.c.client_id,
    _partners.c.merchant_name,
    _partners.c.secret_hash,
    _partners.c.created_at,
)
_PARTNER_BY_ID = sa.select(*_PARTNER_COLUMNS).where(_partners.c.id == sa.bindparam("partner_id"))


def partner_for_token(key: str, token: str, now: datetime) -> Partner | None:
    """The partner of a live bearer token; None for an unknown, tampered, revoked or expired one."""
    claims = read_claims(token)
    if claims is None:
        return None
    row = db.session.execute(_PARTNER_BY_ID, {"partner_id": claims.partner_id}).first()
    if row is None or not verify_token(key, claims, now, row.client_id, row.secret_hash, row.created_at):
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


_CLIENT_BY_CLIENT_ID = sa.select(*_PARTNER_COLUMNS).where(_partners.c.client_id == sa.bindparam("client_id"))


@dataclass(frozen=True)
class ClientRow:
    """A partner's row as the token call reads it (by client_id), before its secret is checked."""

    id: int
    client_id: str
    merchant_name: str
    secret_hash: str
    created_at: datetime


@dataclass(frozen=True)
class AuthenticatedClient:
    """A partner that proved its secret, with the row fields its tokens are signed over."""

    partner: Partner
    secret_hash: str
    created_at: datetime


_NOT_READ = object()


def authenticate_client(
    client_id: str, client_secret: str, client: ClientRow | sa.Row | None | object = _NOT_READ
) -> AuthenticatedClient:
    """The partner with these credentials, or InvalidClient.

    ``client``: the row of ``client_id`` (or None: no such client) when the caller read it already, in the
    same transaction (the call's context does, api/call_context.py); else it is read here.
    """
    if client is _NOT_READ:
        client = db.session.execute(_CLIENT_BY_CLIENT_ID, {"client_id": client_id}).first()
    if client is None:
        # Hash anyway, so an unknown client_id takes as long as a wrong secret.
        client_secret_matches(_dummy_hash(), client_secret)
        raise InvalidClient("Unknown client or wrong secret.")
    if not client_secret_matches(client.secret_hash, client_secret):
        raise InvalidClient("Unknown client or wrong secret.")
    partner = Partner(client.id, client.client_id, client.merchant_name)
    return AuthenticatedClient(partner, client.secret_hash, client.created_at)


def issue_token(key: str, client: AuthenticatedClient, now: datetime, ttl_seconds: int) -> str:
    """A new signed bearer token for the client, valid for ttl_seconds of sandbox time; writes nothing."""
    partner = client.partner
    expires_us = (now + timedelta(seconds=ttl_seconds) - _EPOCH) // _MICROSECOND  # exact: no rounding
    token_id = secrets.token_urlsafe(12)
    signature = _signature(
        key, partner.id, expires_us, token_id, partner.client_id, client.secret_hash, client.created_at
    )
    return f"{TOKEN_PREFIX}.{partner.id}.{expires_us}.{token_id}.{signature}"
