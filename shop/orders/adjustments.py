"""Recording a refund or a points reversal the bank confirmed: once per issuer reference, whoever is first.

``call_bank`` re-reads the order under its row lock, so a second tab normally sees the first tab's record and
stops. The unique ``(order_id, reference)`` of ``order_adjustments`` is the backstop for anything that slips past
that re-check (an unlocked read, a process that recorded the row some other way): the second insert fails, the
order's counters it moved are rolled back with it, and the caller treats the adjustment as already recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from ..extensions import db
from ..models import OrderAdjustment

logger = logging.getLogger(__name__)


def record_adjustment(adjustment: OrderAdjustment, apply: Callable[[], None] = lambda: None) -> bool:
    """Add ``adjustment`` and run ``apply`` (the order's counters) in one savepoint; False if already recorded.

    Any other integrity error is raised. The caller commits.
    """
    try:
        with db.session.begin_nested():
            apply()
            db.session.add(adjustment)
    except sa.exc.IntegrityError:
        if not _recorded(adjustment.order_id, adjustment.reference):
            raise
        logger.warning(
            "Adjustment %s of order id %s was already recorded: kept the first record",
            adjustment.reference,
            adjustment.order_id,
        )
        return False
    return True


def _recorded(order_id: int, reference: str) -> bool:
    return (
        db.session.scalar(
            sa.select(OrderAdjustment.id).where(
                OrderAdjustment.order_id == order_id, OrderAdjustment.reference == reference
            )
        )
        is not None
    )
