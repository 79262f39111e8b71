"""The Pay with Points events that measure uptake: one row per step a shopper reached, failures with the code."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import Order, PwpEvent
from ..orders.rules import utcnow

EVENT_KINDS = (
    "card_paid_eligible",
    "offer_shown",
    "code_sent",
    "verified",
    "points_redeemed",
    "skipped",
    "failed",
)


def record_event(order: Order, kind: str, code: str = "", detail: str = "") -> PwpEvent:
    """Add a timestamped Pay with Points event for this order (the caller's transaction commits it)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"Unknown event kind {kind!r}")
    event = PwpEvent(order_id=order.id, user_id=order.user_id, kind=kind, code=code[:60], detail=detail[:200])
    event.at = utcnow()
    db.session.add(event)
    return event


def has_event(order: Order, kind: str) -> bool:
    """Whether this order has recorded an event of ``kind``."""
    return (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(PwpEvent).where(PwpEvent.order_id == order.id, PwpEvent.kind == kind)
        )
        > 0
    )
