"""Cancelling an order, in whole or in part: refund the card's share, reverse points in proportion, restock.

Every issuer call carries a reference derived from the order (refunds "<ref>-F<n>", reversals "<ref>-R<n>"),
and the cancellation asked for is committed before the refund is sent (through ``call_bank``), so a retry or a
second tab finishes it with exactly the same request; an answer is recorded only if the order still expects it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import sqlalchemy as sa

from ..checkout.offer import floor_to_increment
from ..checkout.payment import look_up_payment
from ..checkout.points import reconcile_points
from ..extensions import db
from ..issuer_client import IssuerClient, IssuerError, IssuerUnavailable, OutcomeUnknown
from ..models import Order, OrderAdjustment, Product
from .adjustments import record_adjustment
from .bank_call import BankRefused, call_bank, intent_is_stale, record_intent
from .rules import PAID_STATUSES, PAYABLE_STATUSES, OrderError, utcnow


class CancelNotAllowed(OrderError):
    """The order (or that quantity) cannot be cancelled."""


class CancellationPending(OrderError):
    """A payment, refund or reversal could not be confirmed yet; retrying finishes it with the same reference.

    ``stage`` is payment | redemption | refund | points (points still on their way back).
    """

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


def cancel_order(order: Order, client: IssuerClient) -> Order:
    """Cancel what remains of the order: refund the card, reverse the points, restock."""
    remaining = {line.id: line.quantity - line.cancelled_quantity for line in order.lines}
    return cancel_lines(order, {line_id: qty for line_id, qty in remaining.items() if qty > 0}, client)


def cancel_lines(order: Order, quantities: Mapping[int, int], client: IssuerClient) -> Order:
    """Cancel some quantity of some lines: refund their share, reverse points in proportion, restock.

    Safe to repeat: an earlier cancellation whose refund was not confirmed is finished first with the same
    Idempotency-Key, and points still due back are reversed before anything new happens.
    """
    _ensure_cancellable(order)
    if order.payment_check_needed and not look_up_payment(order, client):
        # Cancelling an order whose payment may have landed could lose the shopper's money.
        raise CancellationPending("We are still confirming your payment; try again in a moment.", "payment")
    if order.points_check_needed and not reconcile_points(order, client, stale=intent_is_stale(order)):
        if order.points_check_needed:
            # Cancelling while a redemption may still land would refund the card and leave those points taken.
            raise CancellationPending("We are still confirming your points; try again in a moment.", "redemption")
    settle_points(order, client)
    _ensure_cancellable(order)  # re-read: the look-ups above ended the transaction, another tab may have acted
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty > 0}
    finished_pending = False
    if order.pending_cancellation:
        pending = {int(k): v for k, v in json.loads(order.pending_cancellation).items()}
        _cancel(order, pending, client)
        db.session.commit()
        finished_pending = True
        if pending == wanted:
            wanted = {}
    if wanted:
        _ensure_cancellable(order)
        _cancel(order, wanted, client)
    elif not finished_pending:
        raise CancelNotAllowed("Choose something to cancel.")
    db.session.commit()
    settle_points(order, client)
    return order


def _ensure_cancellable(order: Order) -> None:
    if order.status not in PAID_STATUSES + PAYABLE_STATUSES:
        raise CancelNotAllowed("This order is already cancelled.")


def _cancel(order: Order, quantities: Mapping[int, int], client: IssuerClient) -> None:
    lines = {line.id: line for line in order.lines}
    for line_id, qty in quantities.items():
        line = lines.get(line_id)
        if line is None or qty < 0 or qty > line.quantity - line.cancelled_quantity:
            raise CancelNotAllowed("That quantity cannot be cancelled.")
    everything = all(line.quantity - line.cancelled_quantity == quantities.get(line.id, 0) for line in order.lines)
    if order.status in PAID_STATUSES:
        goods = sum(lines[line_id].unit_price_cents * qty for line_id, qty in quantities.items())
        # Cancelling the last item refunds whatever is left, delivery fee included.
        amount = order.total_cents - order.refunded_cents if everything else goods
        if amount > 0 and not _refund(order, amount, quantities, client):
            return  # another tab finished this very cancellation while we waited on the gateway
    for line_id, qty in quantities.items():
        lines[line_id].cancelled_quantity += qty
        db.session.execute(
            sa.update(Product).where(Product.id == lines[line_id].product_id).values(stock=Product.stock + qty)
        )
    order.pending_cancellation = ""
    if everything:
        order.status = "CANCELLED"
        order.cancelled_at = utcnow()
    db.session.flush()


def _refund(order: Order, amount: int, quantities: Mapping[int, int], client: IssuerClient) -> bool:
    """Refund ``amount`` for this cancellation; False when another tab has already recorded the same refund.

    The cancellation asked for is committed first, so a crash or timeout mid-call is finished on retry with
    exactly the same body under the same key.
    """
    number = order.refund_count + 1
    key = f"{order.reference}-F{number}"
    pending = json.dumps({str(k): v for k, v in quantities.items()}, sort_keys=True)
    payment_id = order.payment_id or ""
    order_id = order.id
    order.pending_cancellation = pending
    record_intent(order)
    try:
        refund = call_bank(order, lambda: client.refund(payment_id, amount, key))
    except (OutcomeUnknown, IssuerUnavailable) as error:
        raise CancellationPending("We could not confirm the refund yet; try again in a moment.", "refund") from error
    except IssuerError as error:
        # A refusal refunded nothing: forget the cancellation asked for, unless another tab has moved on.
        if order.refund_count == number - 1 and order.pending_cancellation == pending:
            order.pending_cancellation = ""
        db.session.commit()
        raise BankRefused.from_issuer(error) from error
    if order.refund_count != number - 1 or order.pending_cancellation != pending:
        return False

    def count_refund() -> None:
        order.refunded_cents += amount
        order.refund_count += 1

    adjustment = OrderAdjustment(
        order_id=order_id,
        kind="refund",
        reference=key,
        external_id=refund.refund_id,
        amount_cents=amount,
        points=0,
        created_at=utcnow(),
    )
    return record_adjustment(adjustment, count_refund)


def points_due_back(order: Order) -> int:
    """Points to reverse so the credit kept stays in proportion to what is still charged (in whole increments)."""
    unreversed = order.points_used - order.points_reversed
    if unreversed <= 0:
        return 0
    if order.status == "CANCELLED" or order.total_cents <= 0:
        return unreversed
    charged = order.total_cents - order.refunded_cents
    kept = floor_to_increment(order.points_used * charged // order.total_cents, order.points_increment)
    return max(unreversed - max(kept, 0), 0)


def settle_points(order: Order, client: IssuerClient) -> int:
    """Reverse the points due back, if any (own transactions). Returns the points reversed.

    The reference and amount derive from committed state, so a retry (or a second tab) sends the same request;
    the answer is recorded only if no one has recorded that reversal yet.
    """
    due = points_due_back(order)
    if due == 0 or not order.redemption_order_id:
        return 0
    number = order.reversal_count + 1
    reference = f"{order.reference}-R{number}"
    redemption_order_id = order.redemption_order_id
    order_id = order.id
    record_intent(order)
    try:
        reversal = call_bank(order, lambda: client.reverse(redemption_order_id, reference, due))
    except (OutcomeUnknown, IssuerUnavailable) as error:
        # The amount due is recomputed from the same state next time, so the retry repeats this request.
        message = "Your refund is done; the points are on their way back. Try again shortly."
        raise CancellationPending(message, "points") from error
    except IssuerError as error:
        raise BankRefused.from_issuer(error) from error
    if order.reversal_count != number - 1:
        db.session.commit()
        return 0  # another tab recorded this reversal first

    def count_reversal() -> None:
        order.points_reversed += reversal.points_reversed
        order.credit_reversed_cents += reversal.amount_reversed_cents
        order.reversal_count += 1

    adjustment = OrderAdjustment(
        order_id=order_id,
        kind="points_reversal",
        reference=reference,
        external_id=reversal.reversal_id,
        amount_cents=reversal.amount_reversed_cents,
        points=reversal.points_reversed,
        created_at=utcnow(),
    )
    recorded = record_adjustment(adjustment, count_reversal)
    db.session.commit()
    return reversal.points_reversed if recorded else 0


def finish_pending_cancellation(order: Order, client: IssuerClient) -> int:
    """Finish a cancellation whose refund was not confirmed, with the same key and body. Returns the cents refunded.

    Raises CancellationPending while the gateway still cannot confirm it, BankRefused when it refused the refund
    (the cancellation asked for is then dropped: nothing was refunded).
    """
    if not order.pending_cancellation:
        return 0
    _ensure_cancellable(order)
    refunded_before = order.refunded_cents
    pending = {int(k): v for k, v in json.loads(order.pending_cancellation).items()}
    _cancel(order, pending, client)
    db.session.commit()
    return order.refunded_cents - refunded_before
