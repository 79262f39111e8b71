"""Paying the order by card through the bank's gateway: PAID on capture, and never a second charge.

Each attempt carries the Idempotency-Key "<ref>-P<n>"; the attempt number and a "check needed" flag are
committed before the gateway is called (through ``call_bank``), so a retry, a crash mid-call or a second tab
repeats the same request, and an unknown outcome is settled by looking the order's payments up by merchant
reference. The number only moves once the gateway's answer for the current one is known. A capture the order
cannot keep (a second payment, or one that landed after cancelling) is refunded at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..database import commit_keeping_loaded_state
from ..extensions import db
from ..issuer_client import AlreadyProcessed, IssuerClient, IssuerError, IssuerUnavailable, OutcomeUnknown, Payment
from ..models import Order, OrderAdjustment
from ..orders.adjustments import record_adjustment
from ..orders.bank_call import call_bank, record_intent
from ..orders.rules import PAID_STATUSES, PAYABLE_STATUSES, OrderError, utcnow
from .events import record_event

logger = logging.getLogger(__name__)


class NotPayable(OrderError):
    """The order is already paid, or cancelled."""


class PaymentDeclined(OrderError):
    """The bank declined the card; ``code`` says why. Another card may be tried."""

    def __init__(self, code: str) -> None:
        super().__init__(f"The card was declined ({code}).")
        self.code = code


class PaymentFailed(OrderError):
    """The gateway refused the request (not a decline); ``code`` is its error code."""

    def __init__(self, code: str, details: str = "") -> None:
        super().__init__(details or code)
        self.code = code


class PaymentUnavailable(OrderError):
    """The gateway could not be reached; nothing was charged."""


class PaymentOutcomeUnknown(OrderError):
    """The payment may or may not have gone through and the look-up could not tell yet."""


@dataclass(frozen=True)
class CardDetails:
    """The card as typed: held in memory for one request only, never stored or logged."""

    number: str
    expiry_month: int
    expiry_year: int
    cvc: str
    holder_name: str

    def __repr__(self) -> str:  # keeps the number and CVC out of tracebacks and logs
        return f"CardDetails(last4={self.number[-4:]!r})"

    __str__ = __repr__


def pay_order(order: Order, card: CardDetails, client: IssuerClient) -> Order:
    """Charge the order's total to the card through the gateway; PAID on capture.

    Raises PaymentDeclined (order PAYMENT_DECLINED: try another card), PaymentUnavailable (nothing charged),
    PaymentOutcomeUnknown (the next attempt reuses the same Idempotency-Key, so it can never charge twice).
    """
    _ensure_payable(order)
    if order.payment_check_needed and look_up_payment(order, client):
        return order
    return _charge(order, card, client)


def _charge(order: Order, card: CardDetails, client: IssuerClient) -> Order:
    """Send the attempt due (a repeat of an unknown one, or a fresh key); a second round only after a 409."""
    finished: int | None = None  # an attempt the gateway holds as final and not captured (after a 409)
    for _round in (1, 2):
        attempt = _start_payment_attempt(order, finished)
        if attempt is None:
            return order  # another tab's payment was captured meanwhile
        number, fresh = attempt
        request = _payment_request(order, card, number)
        try:
            # The intent (attempt number, check flag) is committed first: a crash now is found by look-up.
            payment = call_bank(order, lambda request=request: client.pay(**request))
        except OutcomeUnknown:
            if look_up_payment(order, client):
                return order
            raise PaymentOutcomeUnknown("We could not confirm your payment yet.") from None
        except AlreadyProcessed:
            # The key was used before with other card details (an earlier unknown outcome or another tab): if
            # that attempt captured, the look-up finds it; otherwise it is final, and a fresh key is safe.
            if look_up_payment(order, client):
                return order
            finished = number
            continue
        except IssuerUnavailable:
            if fresh:
                _undo_payment_attempt(order, number)
            raise PaymentUnavailable("The card gateway is not available; you have not been charged.") from None
        except IssuerError as error:
            if _is_current_attempt(order, number):
                order.payment_check_needed = False
            db.session.commit()
            raise PaymentFailed(error.code, error.details) from None
        if payment.captured:
            _settle_captures(order, [payment], client)
            return order
        _record_decline(order, number, payment)
        raise PaymentDeclined(payment.decline_code or "declined")
    raise PaymentOutcomeUnknown("We could not confirm your payment yet.")


def _payment_request(order: Order, card: CardDetails, number: int) -> dict[str, Any]:
    """The gateway call of attempt ``number``: the order's total, the card, and the attempt's Idempotency-Key."""
    return dict(
        amount_cents=order.total_cents,
        card_number=card.number,
        expiry_month=card.expiry_month,
        expiry_year=card.expiry_year,
        cvc=card.cvc,
        holder_name=card.holder_name,
        merchant_reference=order.reference,
        idempotency_key=f"{order.reference}-P{number}",
        currency_code=order.currency_code,
        pwp_flow=order.pwp_flow,
    )


def _is_current_attempt(order: Order, number: int) -> bool:
    """Whether attempt ``number`` is still the order's latest and the order still waits for payment."""
    return order.payment_attempts == number and order.status in PAYABLE_STATUSES


def _record_decline(order: Order, number: int, payment: Payment) -> None:
    """Record the decline, only if no newer attempt (another tab) has started since; commit."""
    if _is_current_attempt(order, number):
        order.payment_check_needed = False
        order.status = "PAYMENT_DECLINED"
        order.decline_code = payment.decline_code or "declined"
        order.card_last4 = payment.last4 or order.card_last4
    db.session.commit()


def _ensure_payable(order: Order) -> None:
    if order.status not in PAYABLE_STATUSES:
        raise NotPayable("This order is already paid." if order.status in PAID_STATUSES else "Order is closed.")


def _start_payment_attempt(order: Order, finished: int | None) -> tuple[int, bool] | None:
    """Claim the attempt number to send, in this transaction (the caller commits it before calling the bank).

    An attempt whose outcome is not known yet is repeated with the same key; a new key is taken only when the
    last one is known to be final (declined, or ``finished``). Returns (number, fresh) or None once paid.
    """
    if order.status in PAID_STATUSES:
        return None
    _ensure_payable(order)
    record_intent(order)
    if order.payment_check_needed and order.payment_attempts != finished:
        return order.payment_attempts, False
    order.payment_attempts += 1
    order.payment_check_needed = True
    return order.payment_attempts, True


def _undo_payment_attempt(order: Order, number: int) -> None:
    """The gateway was never reached: give the attempt back, unless another tab has moved on since."""
    if order.payment_attempts == number and order.payment_check_needed and order.status in PAYABLE_STATUSES:
        order.payment_attempts -= 1
        order.payment_check_needed = False
    db.session.commit()


def look_up_payment(order: Order, client: IssuerClient) -> bool:
    """Look the order's payments up by merchant reference; record a capture if there is one. True if found."""
    return confirm_payment(order, client, stale=False) == "captured"


def confirm_payment(order: Order, client: IssuerClient, *, stale: bool) -> str:
    """Look the order's payments up by merchant reference: "captured", "not made" or "unknown".

    A capture found is recorded (and a surplus one refunded). Nothing found settles an unknown attempt as not
    made only when its intent is ``stale`` (a fresher one may still be on its way to the gateway); the next
    attempt then takes a new key, and a capture that still lands is refunded by the next look-up.
    """
    reference = order.reference
    try:
        payments = call_bank(order, lambda: client.find_payments(reference))
    except IssuerError as error:
        # Still unknown: keep the flag, so the next attempt reuses the same key.
        logger.warning("Payment look-up of %s failed (%s): outcome still unknown", reference, error.code)
        return "unknown"
    if _settle_captures(order, payments, client):
        return "captured"
    if stale and order.payment_check_needed and order.status in PAYABLE_STATUSES:
        order.payment_check_needed = False
        db.session.commit()
        return "not made"
    return "unknown"  # the caller commits (or goes on under the row lock call_bank took again)


def _settle_captures(order: Order, payments: list[Payment], client: IssuerClient) -> bool:
    """Record the order's capture and give back any other one. Returns True when a capture was found.

    A capture the order cannot take (it landed after the order was cancelled, or a second payment of an order
    already paid) is refunded in full at once: the shopper must never pay for nothing.
    """
    captured = [payment for payment in payments if payment.captured]
    if not captured:
        return False
    surplus = [payment for payment in captured if not _record_payment(order, payment)]
    reference = order.reference
    commit_keeping_loaded_state()  # the payment page then only shows the order (a refund below re-reads it)
    for payment in surplus:
        _refund_surplus_capture(order, reference, payment, client)
    return True


def _refund_surplus_capture(order: Order, reference: str, payment: Payment, client: IssuerClient) -> None:
    """Refund what is left of a capture the order does not keep; recorded as an adjustment the shopper sees."""
    remaining = (payment.amount_cents or 0) - payment.refunded_cents
    if remaining <= 0:
        return
    key = f"{reference}-V-{payment.payment_id}"
    payment_id = payment.payment_id
    try:
        refund = call_bank(
            order, lambda: client.refund(payment_id=payment_id, amount_cents=remaining, idempotency_key=key)
        )
    except IssuerError as error:
        # Idempotent by its key: the next look-up of this order tries again.
        logger.error("Refund of surplus capture %s of %s failed: %s", payment.payment_id, reference, error.code)
        return
    record_adjustment(  # a second look-up (or tab) finding the same surplus keeps the first record
        OrderAdjustment(
            order_id=order.id,
            kind="refund",
            reference=key,
            external_id=refund.refund_id,
            amount_cents=refund.amount_cents,
            created_at=utcnow(),
        )
    )
    db.session.commit()


def _record_payment(order: Order, payment: Payment) -> bool:
    """Record a capture on the order. False when the order cannot take it (see _settle_captures)."""
    order.payment_check_needed = False
    if order.status not in PAYABLE_STATUSES:
        return payment.payment_id == order.payment_id  # True: another tab recorded this very capture
    order.status = "PAID"
    order.payment_id = payment.payment_id
    order.card_last4 = payment.last4
    order.card_brand = payment.brand
    order.card_issued_by_summit = payment.issued_by_summit
    order.card_points_eligible = payment.points_eligible
    order.decline_code = None
    order.paid_at = utcnow()
    if payment.points_eligible:
        record_event(order, "card_paid_eligible", detail=payment.last4)
    return True
