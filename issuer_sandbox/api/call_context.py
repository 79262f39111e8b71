"""What every logged API call needs to know before its handler runs, read in one statement.

The sandbox clock's offset, whether a fault rule applies to the endpoint, and the partner behind the bearer
token (if the call carries one) used to be three to five separate queries per call. Here they are one
prebuilt SELECT (its compiled form is cached), run in a read transaction. A call without a bearer token
that authenticates with HTTP Basic (the token call) gets the row of the client it names instead: the token
call's handler checks the secret against it in the same read transaction, without a statement of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, g, request

from .. import clock, tokens
from ..database import Prebuilt, read_connection
from ..models import FaultRule, PartnerClient, SandboxSetting

_settings = SandboxSetting.__table__
_faults = FaultRule.__table__
_partners = PartnerClient.__table__

_clock_offset = (
    sa.select(_settings.c.value).where(_settings.c.key == clock.CLOCK_OFFSET_KEY).scalar_subquery().label("offset")
)
_fault_rule_id = (
    sa.select(_faults.c.id)
    .where(
        _faults.c.endpoint == sa.bindparam("endpoint"),
        sa.or_(_faults.c.remaining_failures.is_(None), _faults.c.remaining_failures > 0),
    )
    .order_by(_faults.c.id)
    .limit(1)
    .scalar_subquery()
    .label("fault_rule_id")
)
# The partner a token names, with the fields its signature covers (tokens.py): the token is checked here.
# Without a token, the client an HTTP Basic header names (NULL never matches: at most one of the two is set).
_token_partner = (
    sa.select(
        _partners.c.id.label("partner_id"),
        _partners.c.client_id,
        _partners.c.merchant_name,
        _partners.c.secret_hash,
        _partners.c.created_at,
    )
    .where(
        sa.or_(
            _partners.c.id == sa.bindparam("partner_id"),
            _partners.c.client_id == sa.bindparam("basic_client_id", type_=sa.String),
        )
    )
    .subquery()
)
# One row always: the sandbox's answers, and the token's partner where the token names one (else NULLs).
_CONTEXT = sa.select(
    _clock_offset,
    _fault_rule_id,
    _token_partner.c.partner_id,
    _token_partner.c.client_id,
    _token_partner.c.merchant_name,
    _token_partner.c.secret_hash,
    # As the driver returns it (SQLite: SQLAlchemy's text of the datetime), so no column of this statement
    # needs SQLAlchemy's result processing and it can run as driver SQL (database.Prebuilt); see _created_at.
    sa.type_coerce(_token_partner.c.created_at, sa.String).label("created_at"),
).select_from(sa.select(sa.literal(1).label("one")).subquery().outerjoin(_token_partner, sa.true()))


_CONTEXT_FAST = Prebuilt(_CONTEXT)


def _created_at(value: datetime | str | None) -> datetime | None:
    """The partner's created_at as a datetime: PostgreSQL's driver returns one, SQLite the text SQLAlchemy wrote
    ("YYYY-MM-DD HH:MM:SS.ffffff"), which ``fromisoformat`` reads back exactly."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class CallContext:
    fault_rule_id: int | None
    partner: tokens.Partner | None  # None: no bearer token, an unknown, tampered, revoked or expired one
    token_presented: str | None
    basic_client_id: str | None = None  # the HTTP Basic client looked up (no bearer token), if any
    basic_client: tokens.ClientRow | None = None  # its row, not yet authenticated; None: no such client


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None (read once per call, then from ``g``)."""
    globals_ = g._get_current_object()
    if "bearer_token" not in globals_:
        globals_.bearer_token = _read_bearer_token()
    return globals_.bearer_token


def _read_bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


# Endpoints whose handler reads nothing in the context's transaction: the token call checks the secret
# against the client row the context read.
HANDLER_READS_NOTHING = frozenset({"token.issue_token"})
# Endpoints whose handler only reads, and only through prebuilt statements (core_connection): the context and
# the handler share one read transaction on a pooled Core connection, outside the Session (begin_request_read).
CORE_READ_ENDPOINTS = frozenset({"redemptions.point_balance"})


def load(endpoint: str, own_transaction: bool = False) -> CallContext:
    """Read the call's context, remember the clock offset for the request, and keep it in ``g``.

    ``own_transaction``: the handler will not go on in the context's read transaction (it writes, in a
    transaction of its own, or reads nothing), so the read runs on a pooled Core connection of its own,
    begun and rolled back around the one statement, not through the Session: an ORM session transaction
    set up and rolled back for one read cost more than the read (in-process 130-170 us against 50-100 us).
    On PostgreSQL that connection is in autocommit (``database.read_connection``): the one round trip of
    the statement, no BEGIN and ROLLBACK around it.
    """
    current_request = request._get_current_object()
    token = bearer_token()
    claims = tokens.read_claims(token) if token else None
    basic_client_id = None
    if token is None:
        auth = current_request.authorization
        if auth is not None and auth.type == "basic" and auth.username:
            basic_client_id = auth.username
    params = {
        "endpoint": endpoint,
        "partner_id": claims.partner_id if claims else 0,
        "basic_client_id": basic_client_id,
    }
    if own_transaction:
        with read_connection() as connection:
            try:
                row = _CONTEXT_FAST.execute(connection, params).one()
            finally:
                connection.rollback()
    else:
        row = _CONTEXT_FAST.run(params).one()
    created_at = _created_at(row.created_at)
    offset = int(row.offset) if row.offset else 0
    clock.remember_offset(offset)
    partner = None
    if claims is not None and row.partner_id is not None:
        key = current_app._get_current_object().config["SECRET_KEY"]
        if tokens.verify_token(key, claims, clock.now(), row.client_id, row.secret_hash, created_at):
            partner = tokens.Partner(row.partner_id, row.client_id, row.merchant_name)
    basic_client = None
    if basic_client_id is not None and row.partner_id is not None:
        basic_client = tokens.ClientRow(row.partner_id, row.client_id, row.merchant_name, row.secret_hash, created_at)
    context = CallContext(row.fault_rule_id, partner, token, basic_client_id, basic_client)
    g.call_context = context
    return context


def current() -> CallContext | None:
    """The context loaded for this call, if it is a logged API call."""
    return g.get("call_context")
