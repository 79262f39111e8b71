"""Reconciliation: settle every order whose bank outcome is unknown, as an explicit step, never on a GET.

An order waits on the bank when an intent to move money was committed and no answer recorded: a payment or
a redemption whose outcome is unknown, a cancellation whose refund was not confirmed, points still due back
after a refund. GET pages only read and say "we are confirming this with Summit Bank"; the outcome is settled
here, by `flask --app shop reconcile` (every stale order) or the shopper's "Check again" button (one order).

Settling goes through the bank's look-ups (a payment by merchant reference, a redemption by reference) and
repeats an unconfirmed refund or reversal with its own reference, so the bank replays one that landed. When
the look-up finds nothing and the intent is *stale* (older than RECONCILE_AFTER_SECONDS, so no worker can
still be waiting on it), the step is settled as not made, so no order stays unknown for ever; a fresher
intent is left to the worker that may still be waiting. Running it again changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..checkout import payment as payment_rules
from ..checkout import points as points_rules
from ..extensions import db
from ..issuer_client import IssuerClient
from ..models import Order
from ..templating import money
from . import cancellation
from .bank_call import BankRefused, intent_is_stale
from .rules import OrderError

logger = logging.getLogger(__name__)


@dataclass
class OrderReconciliation:
    """What reconciling one order changed, and why it is still unknown (empty when settled)."""

    reference: str
    changes: list[str] = field(default_factory=list)
    still_unknown: str = ""


@dataclass
class ReconciliationReport:
    """The outcome of one run over every order waiting on the bank."""

    orders: list[OrderReconciliation] = field(default_factory=list)
    left_for_now: list[str] = field(default_factory=list)  # fresh intents: a worker may still be waiting

    @property
    def changed(self) -> list[OrderReconciliation]:
        return [order for order in self.orders if order.changes]

    @property
    def still_unknown(self) -> list[OrderReconciliation]:
        return [order for order in self.orders if order.still_unknown]


def waits_on_bank(order: Order) -> bool:
    """Whether some money step of the order has no recorded answer from the bank yet."""
    return bool(
        order.payment_check_needed
        or order.points_check_needed
        or order.pending_cancellation
        or (order.redemption_order_id and cancellation.points_due_back(order))
    )


def check_again(order: Order, client: IssuerClient) -> OrderReconciliation:
    """The shopper's "Check again": settle this order now (as not made only if its intent is stale)."""
    return reconcile_order(order, client, stale=intent_is_stale(order))


def reconcile_order(order: Order, client: IssuerClient, *, stale: bool) -> OrderReconciliation:
    """Settle each unknown step of one (row-locked) order through the bank; commits as it goes."""
    reference = order.reference
    result = OrderReconciliation(reference)
    try:
        if order.payment_check_needed:
            outcome = payment_rules.confirm_payment(order, client, stale=stale)
            if outcome == "captured":
                result.changes.append(f"payment confirmed: {money(order.total_cents)}")
            elif outcome == "not made":
                result.changes.append("payment not made: the order waits for payment again")
        if order.points_check_needed:
            outcome = points_rules.confirm_redemption(order, client, stale=stale)
            if outcome == "redeemed":
                result.changes.append(f"redemption confirmed: {order.points_used:,} points")
            elif outcome == "not made":
                result.changes.append("redemption not made: no points were taken")
        if order.pending_cancellation:
            refunded = cancellation.finish_pending_cancellation(order, client)
            result.changes.append(f"refund recorded: {money(refunded)}" if refunded else "cancellation recorded")
        if order.redemption_order_id and cancellation.points_due_back(order):
            reversed_points = cancellation.settle_points(order, client)
            if reversed_points:
                result.changes.append(f"reversal recorded: {reversed_points:,} points")
    except (cancellation.CancellationPending, BankRefused, OrderError) as error:
        db.session.rollback()
        logger.warning("Reconciling %s stopped: %s", reference, error, exc_info=True)
        result.still_unknown = str(error)
    if not result.still_unknown and waits_on_bank(order):
        result.still_unknown = "the bank has not confirmed the outcome yet"
    db.session.commit()
    return result


def orders_waiting_on_bank() -> list[int]:
    """Ids of the orders that may wait on the bank (waits_on_bank decides, under the row lock)."""
    points_may_be_due = sa.and_(
        Order.redemption_order_id.is_not(None),
        Order.points_used > Order.points_reversed,
        sa.or_(Order.refunded_cents > 0, Order.status == "CANCELLED"),
    )
    query = (
        sa.select(Order.id)
        .where(
            sa.or_(
                Order.payment_check_needed.is_(True),
                Order.points_check_needed.is_(True),
                Order.pending_cancellation != "",
                points_may_be_due,
            )
        )
        .order_by(Order.id)
    )
    ids = list(db.session.scalars(query))
    db.session.commit()
    return ids


def reconcile_all(client: IssuerClient, *, after_seconds: int | None = None) -> ReconciliationReport:
    """Settle every order whose intent is stale; leave fresher ones (listed) to their workers. Safe to repeat."""
    report = ReconciliationReport()
    for order_id in orders_waiting_on_bank():
        order = db.session.scalar(
            sa.select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
        )
        if order is None or not waits_on_bank(order):
            db.session.commit()
            continue  # settled by its own worker meanwhile
        if not intent_is_stale(order, after_seconds):
            report.left_for_now.append(order.reference)
            db.session.commit()
            continue
        report.orders.append(reconcile_order(order, client, stale=True))
    return report
