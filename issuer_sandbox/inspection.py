"""What testers look at: the read-only queries behind the console's pages and ``/sandbox/api``.

The commit rule of the issuer: rules modules own the session and every changing use case commits (or rolls
back) inside its rules function (``controls``, ``links``, ``tokens``, ``seed``, ``clock``...); views and API
handlers parse, call and render, and never touch ``db.session``. This module is the read side of that rule:
it only reads, so it never commits, and the request's session is closed by Flask-SQLAlchemy at teardown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from .controls import FROZEN
from .extensions import db
from .models import Card, Cardholder, FaultRule, RequestLogEntry, RewardLink, SmsMessage

# --- SMS outbox and the phone ---------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxMessage:
    """One SMS as testers see it, with the reward link (and its merchant customer) it was sent for."""

    id: int
    phone: str
    body: str
    sent_at: datetime
    reward_link_code: str | None  # None: a message not sent for a link (e.g. the legacy flow's SMS)
    customer_reference: str | None


def sms_messages(
    phone: str | None,
    limit: int,
    *,
    link_code: str | None = None,
    customer_reference: str | None = None,
) -> list[OutboxMessage]:
    """The newest ``limit`` messages the bank sent, newest first; only those to ``phone``, for the link
    ``link_code`` and for links of the merchant customer ``customer_reference`` when given."""
    query = (
        sa.select(SmsMessage, RewardLink.code, RewardLink.merchant_customer_reference)
        .outerjoin(RewardLink, SmsMessage.reward_link_id == RewardLink.id)
        .order_by(SmsMessage.sent_at.desc(), SmsMessage.id.desc())
        .limit(limit)
    )
    if phone:
        query = query.where(SmsMessage.phone == phone)
    if link_code:
        query = query.where(RewardLink.code == link_code)
    if customer_reference:
        query = query.where(RewardLink.merchant_customer_reference == customer_reference)
    return [
        OutboxMessage(message.id, message.phone, message.body, message.sent_at, code, customer)
        for message, code, customer in db.session.execute(query)
    ]


def holder_names(phone: str) -> list[str]:
    """The names of the cardholders registered with this mobile, in the order they became customers."""
    return list(db.session.scalars(sa.select(Cardholder.name).where(Cardholder.phone == phone).order_by(Cardholder.id)))


def cardholder_phones() -> list[tuple[str, str]]:
    """(mobile, name) of every cardholder, in the order they became customers."""
    rows = db.session.execute(sa.select(Cardholder.phone, Cardholder.name).order_by(Cardholder.id))
    return [(phone, name) for phone, name in rows]


def outbox_phones() -> list[str]:
    """Every number the SMS outbox wrote to, in number order."""
    return list(db.session.scalars(sa.select(SmsMessage.phone).distinct().order_by(SmsMessage.phone)))


# --- The overview ---------------------------------------------------------------------------------


def _count(model, *conditions) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0)


def sandbox_counts() -> dict[str, int]:
    """How many cards, links, messages, logged requests and faults the sandbox holds now."""
    return {
        "cards": _count(Card),
        "frozen": _count(Card, Card.status == FROZEN),
        "active_links": _count(RewardLink, RewardLink.status == "ACTIVE"),
        "pending_links": _count(RewardLink, RewardLink.status == "PENDING_ACTIVATION"),
        "messages": _count(SmsMessage),
        "requests": _count(RequestLogEntry),
        "faults": _count(FaultRule),
    }


# --- The request log ------------------------------------------------------------------------------


def status_range(status: str) -> tuple[int, int] | None:
    """'4xx' -> (400, 499); '404' -> (404, 404); anything else -> None (no filter)."""
    if re.fullmatch(r"[1-5]xx", status):
        low = int(status[0]) * 100
        return low, low + 99
    if re.fullmatch(r"[1-5][0-9][0-9]", status):
        return int(status), int(status)
    return None


def logged_statuses() -> list[int]:
    """Every HTTP status the request log holds, lowest first."""
    return list(db.session.scalars(sa.select(RequestLogEntry.status).distinct().order_by(RequestLogEntry.status)))


def request_log_entries(
    *,
    limit: int,
    statuses: tuple[int, int] | None = None,
    path_part: str = "",
    before_id: int | None = None,
) -> list[RequestLogEntry]:
    """Logged calls, newest first: within a status range, whose path contains ``path_part`` (taken literally,
    ``%`` and ``_`` included), older than entry ``before_id``."""
    query = sa.select(RequestLogEntry).order_by(RequestLogEntry.id.desc()).limit(limit)
    if statuses is not None:
        low, high = statuses
        query = query.where(RequestLogEntry.status.between(low, high))
    if path_part:
        query = query.where(RequestLogEntry.path.contains(path_part, autoescape=True))
    if before_id:
        query = query.where(RequestLogEntry.id < before_id)
    return list(db.session.scalars(query))
