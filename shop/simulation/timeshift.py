"""Moving a finished simulated journey into the past, in the shop's own database, and marking it simulated.

Why the shop's timestamps and not the sandbox clock: the sandbox clock only moves forward (it exists to make
codes and tokens expire), so it cannot place a checkout sixty days ago; and the insights read the shop's own
orders and Pay with Points events. So the journey runs now, for real, then every timestamp it wrote in the shop
(the order's, its events' and their journey row's, its adjustments', the shopper's account and card link) moves by
one offset to the drawn past moment: the intervals between steps (the time spent at each step) stay exactly as
they happened.
The bank's own records (its statement, its ledger) keep the real time of the run.

Each call is one transaction, committed before the next journey's HTTP begins (a command's transactions take
SQLite's write lock at BEGIN: none may stay open while the shop serves the shopper).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..checkout.events import rebuild_journeys
from ..database import reading
from ..extensions import db
from ..models import CardLink, Order, OrderAdjustment, PwpEvent, User

ORDER_TIMESTAMPS = ("created_at", "paid_at", "cancelled_at", "bank_intent_at")
LINK_TIMESTAMPS = ("created_at", "activated_at", "otp_sent_at")
# Values written up to this long before the journey's start still count as the journey's (the shop's clock may
# run a little behind the command's). Moved journeys end before the run's day began, far below this margin.
CLOCK_SLACK = timedelta(seconds=60)


@dataclass(frozen=True)
class MarkedJourney:
    """What ``shift_and_mark`` did: the orders it moved and marked, and by how much."""

    references: tuple[str, ...]
    offset: timedelta


def find_shopper(email: str) -> User | None:
    """The shopper the simulation signed up (read in a transaction of its own, ended before returning)."""
    with reading():
        user = db.session.scalar(sa.select(User).where(User.email == email.lower()))
        if user is not None:
            db.session.expunge(user)
        db.session.rollback()
    return user


def _shift(row: object, columns: tuple[str, ...], offset: timedelta, since: datetime) -> None:
    """Move each of ``columns`` written at or after ``since`` (during this journey) by ``offset``."""
    for column in columns:
        value = getattr(row, column)
        if value is not None and value >= since:
            setattr(row, column, value + offset)


def shift_and_mark(user_id: int, started_at: datetime, moved_to: datetime) -> MarkedJourney:
    """Mark the shopper's unmarked orders simulated and move what this journey wrote by (moved_to - started_at).

    ``started_at`` is the real moment (UTC, naive) the journey began: only values written since then move, so
    a returning shopper's first visit and account stay where the first journey put them. Called after every
    journey, whatever its outcome (an error half-way included): a journey the command drove is never left in
    the shop looking like a real one.
    """
    offset = moved_to - started_at
    since = started_at - CLOCK_SLACK
    try:
        orders = list(
            db.session.scalars(
                sa.select(Order).where(Order.user_id == user_id, Order.simulated.is_(False)).order_by(Order.id)
            )
        )
        order_ids = [order.id for order in orders]
        for order in orders:
            _shift(order, ORDER_TIMESTAMPS, offset, since)
            order.simulated = True
        if order_ids:
            for event in db.session.scalars(sa.select(PwpEvent).where(PwpEvent.order_id.in_(order_ids))):
                _shift(event, ("at",), offset, since)
            db.session.flush()
            rebuild_journeys(order_ids)  # the journeys' rows follow their moved events
            for adjustment in db.session.scalars(
                sa.select(OrderAdjustment).where(OrderAdjustment.order_id.in_(order_ids))
            ):
                _shift(adjustment, ("created_at",), offset, since)
        for link in db.session.scalars(sa.select(CardLink).where(CardLink.user_id == user_id)):
            _shift(link, LINK_TIMESTAMPS, offset, since)
        user = db.session.get(User, user_id)
        if user is not None:
            _shift(user, ("created_at",), offset, since)
        references = tuple(order.reference for order in orders)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        # Nothing may load after the commit: a new transaction would hold SQLite's write lock while the shop
        # serves the next journey.
        db.session.close()
    return MarkedJourney(references=references, offset=offset)
