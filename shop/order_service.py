"""Order rules: create from the cart, pay by card, apply points, cancel in whole or in part.

Plain functions with named exceptions. No database transaction is ever open while the shop waits on the bank
(SQLite's write lock would stall every shopper for up to the issuer timeout): each step commits its intent (the
attempt counter, a "check needed" flag, the cancellation asked for), ends the transaction, calls the bank with
values read beforehand, then records the answer in a new transaction that re-reads the order. Every issuer call
that moves money carries a reference derived from the order — payments "<ref>-P<n>", refunds "<ref>-F<n>",
reversals "<ref>-R<n>", redemptions "<ref>" — so a retry, a crash mid-call or a second tab repeats the same,
idempotent request; the counter behind <n> only moves once the bank's answer for the current one is known, and
an answer is recorded only if the order still expects it (another tab may have recorded it first). An unknown
outcome is resolved by the bank's look-up, never by guessing.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from .extensions import db
from .issuer_client import (
    AlreadyProcessed,
    IssuerClient,
    IssuerError,
    IssuerUnavailable,
    NotFound,
    OutcomeUnknown,
    Payment,
    Redemption,
)
from .models import Order, OrderAdjustment, OrderLine, Product
from .pwp import (
    NoActiveLink,
    active_link,
    end_transaction,
    ensure_points_possible,
    floor_to_increment,
    points_offer,
    record_event,
    utcnow,
    validate_points,
)

logger = logging.getLogger(__name__)

PAYABLE_STATUSES = ("PENDING_PAYMENT", "PAYMENT_DECLINED")
PAID_STATUSES = ("PAID", "POINTS_APPLIED")


# --- Errors -------------------------------------------------------------------------------------


class OrderError(Exception):
    """Base of the order rules' errors; the message is safe to show."""


class EmptyCart(OrderError):
    """There is nothing to order."""


class OutOfStock(OrderError):
    """Some product does not have the quantity asked for."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("Not enough stock for: " + ", ".join(names))
        self.names = names


class OrderNotFound(OrderError):
    """No such order for this shopper."""


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


class PointsOutcomeUnknown(OrderError):
    """The redemption may or may not have happened and the look-up could not tell yet."""


class CancelNotAllowed(OrderError):
    """The order (or that quantity) cannot be cancelled."""


class CancellationPending(OrderError):
    """A payment, refund or reversal could not be confirmed yet; retrying finishes it with the same reference.

    ``stage`` says which: payment | refund | points.
    """

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


# --- Creating the order -------------------------------------------------------------------------


class CartLineLike(Protocol):
    product: Product
    quantity: int


class CartLike(Protocol):
    lines: list[Any]
    subtotal_cents: int
    delivery_fee_cents: int
    total_cents: int


@dataclass(frozen=True)
class Delivery:
    name: str
    phone: str
    address: str
    district: str


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


def new_reference() -> str:
    """A fresh "HM-" + 6 digits reference not used by any order yet."""
    while True:
        reference = f"HM-{secrets.randbelow(900_000) + 100_000:06d}"
        if db.session.scalar(sa.select(Order.id).where(Order.reference == reference)) is None:
            return reference


def create_order(user_id: int, cart: CartLike, delivery: Delivery, currency_code: str = "HKD") -> Order:
    """Turn the cart into a PENDING_PAYMENT order: snapshot prices, reserve stock (all or nothing)."""
    lines = [line for line in cart.lines if line.quantity > 0]
    if not lines:
        raise EmptyCart("Your cart is empty.")
    short: list[str] = []
    for line in lines:
        # Conditional decrement: the database refuses to go below zero, however many shoppers race.
        result = db.session.execute(
            sa.update(Product)
            .where(Product.id == line.product.id, Product.stock >= line.quantity)
            .values(stock=Product.stock - line.quantity)
        )
        if result.rowcount != 1:
            short.append(line.product.name)
    if short:
        db.session.rollback()
        raise OutOfStock(short)
    subtotal = sum(line.product.price_cents * line.quantity for line in lines)
    delivery_fee = cart.delivery_fee_cents
    order = Order(
        reference=new_reference(),
        user_id=user_id,
        status="PENDING_PAYMENT",
        currency_code=currency_code,
        subtotal_cents=subtotal,
        delivery_fee_cents=delivery_fee,
        total_cents=subtotal + delivery_fee,
        recipient_name=delivery.name,
        recipient_phone=delivery.phone,
        address_line=delivery.address,
        district=delivery.district,
        created_at=utcnow(),
        refunded_cents=0,
        points_used=0,
        statement_credit_cents=0,
        points_reversed=0,
        credit_reversed_cents=0,
        payment_attempts=0,
        refund_count=0,
        reversal_count=0,
    )
    order.lines = [
        OrderLine(
            product_id=line.product.id,
            product_name=line.product.name,
            unit_price_cents=line.product.price_cents,
            quantity=line.quantity,
            cancelled_quantity=0,
        )
        for line in lines
    ]
    db.session.add(order)
    db.session.commit()
    return order


def get_order(user_id: int, reference: str, lock: bool = False) -> Order:
    """The shopper's order by reference (another shopper's order is not found)."""
    query = sa.select(Order).where(Order.reference == reference, Order.user_id == user_id)
    if lock:
        query = query.with_for_update()
    order = db.session.scalar(query)
    if order is None:
        raise OrderNotFound(reference)
    return order


def order_history(user_id: int) -> list[Order]:
    return list(db.session.scalars(sa.select(Order).where(Order.user_id == user_id).order_by(Order.id.desc())))


# --- Paying by card -----------------------------------------------------------------------------


def pay_order(order: Order, card: CardDetails, client: IssuerClient) -> Order:
    """Charge the order's total to the card through the gateway; PAID on capture.

    Raises PaymentDeclined (order PAYMENT_DECLINED: try another card), PaymentUnavailable (nothing charged),
    PaymentOutcomeUnknown (the next attempt reuses the same Idempotency-Key, so it can never charge twice).
    """
    _ensure_payable(order)
    if order.payment_check_needed and _resolve_payment(order, client):
        return order
    finished: int | None = None  # an attempt the gateway holds as final and not captured (after a 409)
    for _round in (1, 2):
        attempt = _start_payment_attempt(order, finished)
        if attempt is None:
            return order  # another tab's payment was captured meanwhile
        number, fresh = attempt
        request = dict(
            amount_cents=order.total_cents,
            card_number=card.number,
            expiry_month=card.expiry_month,
            expiry_year=card.expiry_year,
            cvc=card.cvc,
            holder_name=card.holder_name,
            merchant_reference=order.reference,
            idempotency_key=f"{order.reference}-P{number}",
            currency_code=order.currency_code,
        )
        end_transaction()  # the intent (attempt number, check flag) is saved: a crash now is found by look-up
        try:
            payment = client.pay(**request)
        except OutcomeUnknown:
            if _resolve_payment(order, client):
                return order
            raise PaymentOutcomeUnknown("We could not confirm your payment yet.") from None
        except AlreadyProcessed:
            # The key was used before with other card details (an earlier unknown outcome or another tab): if
            # that attempt captured, the look-up finds it; otherwise it is final, and a fresh key is safe.
            if _resolve_payment(order, client):
                return order
            finished = number
            continue
        except IssuerUnavailable:
            if fresh:
                _undo_payment_attempt(order, number)
            raise PaymentUnavailable("The card gateway is not available; you have not been charged.") from None
        except IssuerError as error:
            if order.payment_attempts == number and order.status in PAYABLE_STATUSES:
                order.payment_check_needed = False
            db.session.commit()
            raise PaymentFailed(error.code, error.details) from None
        if payment.captured:
            _settle_captures(order, [payment], client)
            return order
        # A decline is recorded only if no newer attempt (another tab) has started since.
        if order.payment_attempts == number and order.status in PAYABLE_STATUSES:
            order.payment_check_needed = False
            order.status = "PAYMENT_DECLINED"
            order.decline_code = payment.decline_code or "declined"
            order.card_last4 = payment.last4 or order.card_last4
        db.session.commit()
        raise PaymentDeclined(payment.decline_code or "declined")
    raise PaymentOutcomeUnknown("We could not confirm your payment yet.")


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


def resolve_payment(order: Order, client: IssuerClient) -> Order:
    """Ask the gateway about an attempt whose outcome is unknown (e.g. on revisiting the payment page)."""
    if order.payment_check_needed:
        _resolve_payment(order, client)
    return order


def _resolve_payment(order: Order, client: IssuerClient) -> bool:
    """Look the order's payments up by merchant reference; record a capture if there is one."""
    reference = order.reference
    end_transaction()
    try:
        payments = client.find_payments(reference)
    except IssuerError:
        return False  # still unknown: keep the flag, so the next attempt reuses the same key
    return _settle_captures(order, payments, client)


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
    db.session.commit()
    for payment in surplus:
        _refund_surplus_capture(order, reference, payment, client)
    return True


def _refund_surplus_capture(order: Order, reference: str, payment: Payment, client: IssuerClient) -> None:
    """Refund what is left of a capture the order does not keep; recorded as an adjustment the shopper sees."""
    remaining = (payment.amount_cents or 0) - payment.refunded_cents
    if remaining <= 0:
        return
    key = f"{reference}-V-{payment.payment_id}"
    end_transaction()
    try:
        refund = client.refund(payment_id=payment.payment_id, amount_cents=remaining, idempotency_key=key)
    except IssuerError as error:
        # Idempotent by its key: the next look-up of this order tries again.
        logger.error("Refund of surplus capture %s of %s failed: %s", payment.payment_id, reference, error.code)
        return
    already = db.session.scalar(
        sa.select(OrderAdjustment).where(OrderAdjustment.order_id == order.id, OrderAdjustment.reference == key)
    )
    if already is None:
        db.session.add(
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


# --- Applying points ----------------------------------------------------------------------------


def apply_points(order: Order, points: int, client: IssuerClient) -> Order:
    """Redeem ``points`` against the paid order; the order's reference is the redemption's reference.

    The offer is recomputed from the live balance, so whatever the browser sent is checked again. The
    "check needed" flag is committed before the redemption is sent, so a crash or timeout is settled by the
    look-up. On an unknown outcome the bank is asked by reference once; if it has no record, the same request
    is sent once more (the bank replays it if the first did land, so points are never taken twice).
    """
    ensure_points_possible(order)
    if order.points_check_needed and reconcile_points(order, client):
        return order
    offer = points_offer(order, client)  # ends the transaction before asking for the balance
    validate_points(points, offer)
    ensure_points_possible(order)  # re-read: another tab may have applied points while we asked
    link = active_link(order)
    if link is None:
        raise NoActiveLink("Link your card first.")
    reference = order.reference
    request = dict(
        reward_link_code=link.reward_link_code,
        reference=reference,
        amount_cents=order.total_cents - order.refunded_cents,
        points=points,
        description=f"Harbour Mall order {reference}",
        currency_code=order.currency_code,
    )
    order.points_check_needed = True
    end_transaction()
    try:
        redemption = _redeem_or_look_up(request, client)
    except PointsOutcomeUnknown:
        record_event(order, "failed", code="outcomeUnknown", detail="redemption outcome unknown")
        db.session.commit()
        raise
    except IssuerError as error:
        # A refusal means nothing was redeemed; a 409 means the reference is taken, so keep the flag and let
        # the look-up record whatever redemption holds it.
        if not isinstance(error, AlreadyProcessed) and not order.redemption_order_id:
            order.points_check_needed = False
        record_event(order, "failed", code=error.code, detail=error.details)
        db.session.commit()
        raise
    _record_redemption(order, redemption, offer.increment)
    db.session.commit()
    return order


def _redeem_or_look_up(request: dict[str, Any], client: IssuerClient) -> Redemption:
    try:
        return client.redeem(**request)
    except OutcomeUnknown:
        pass
    try:
        return client.find_redemption(request["reference"])
    except NotFound:
        pass  # the bank has no record: sending the same request again is safe
    except IssuerError:
        raise PointsOutcomeUnknown("We could not confirm your points yet.") from None
    try:
        return client.redeem(**request)
    except (OutcomeUnknown, IssuerUnavailable):
        raise PointsOutcomeUnknown("We could not confirm your points yet.") from None


def reconcile_points(order: Order, client: IssuerClient) -> bool:
    """Settle an earlier unknown redemption by the bank's look-up (own transactions). True when one was found."""
    if not order.points_check_needed:
        return False
    reference = order.reference
    end_transaction()
    try:
        redemption = client.find_redemption(reference)
    except NotFound:
        if not order.redemption_order_id:
            order.points_check_needed = False
        db.session.commit()
        return False
    except IssuerError:
        return False
    _record_redemption(order, redemption, order.points_increment)
    db.session.commit()
    return True


def _record_redemption(order: Order, redemption: Redemption, increment: int) -> None:
    order.points_check_needed = False
    if order.redemption_order_id == redemption.order_id:
        return  # another tab recorded it first
    order.redemption_order_id = redemption.order_id
    order.points_used = redemption.points_redeemed
    order.statement_credit_cents = redemption.redeemed_amount_cents
    order.points_increment = increment or order.points_increment or 1
    order.points_check_needed = False
    if order.status == "PAID":
        order.status = "POINTS_APPLIED"
    record_event(order, "points_redeemed", detail=f"{redemption.points_redeemed} points")


# --- Cancelling ---------------------------------------------------------------------------------


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
    if order.payment_check_needed and not _resolve_payment(order, client):
        # Cancelling an order whose payment may have landed could lose the shopper's money.
        raise CancellationPending("We are still confirming your payment; try again in a moment.", "payment")
    if order.points_check_needed:
        reconcile_points(order, client)
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
    end_transaction()
    try:
        refund = client.refund(payment_id, amount, key)
    except (OutcomeUnknown, IssuerUnavailable) as error:
        raise CancellationPending("We could not confirm the refund yet; try again in a moment.", "refund") from error
    except IssuerError:
        # A refusal refunded nothing: forget the cancellation asked for, unless another tab has moved on.
        if order.refund_count == number - 1 and order.pending_cancellation == pending:
            order.pending_cancellation = ""
        db.session.commit()
        raise
    if order.refund_count != number - 1 or order.pending_cancellation != pending:
        return False
    order.refunded_cents += amount
    order.refund_count += 1
    db.session.add(
        OrderAdjustment(
            order_id=order_id,
            kind="refund",
            reference=key,
            external_id=refund.refund_id,
            amount_cents=amount,
            points=0,
            created_at=utcnow(),
        )
    )
    return True


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
    end_transaction()
    try:
        reversal = client.reverse(redemption_order_id, reference, due)
    except (OutcomeUnknown, IssuerUnavailable) as error:
        # The amount due is recomputed from the same state next time, so the retry repeats this request.
        message = "Your refund is done; the points are on their way back. Try again shortly."
        raise CancellationPending(message, "points") from error
    if order.reversal_count != number - 1:
        db.session.commit()
        return 0  # another tab recorded this reversal first
    order.points_reversed += reversal.points_reversed
    order.credit_reversed_cents += reversal.amount_reversed_cents
    order.reversal_count += 1
    db.session.add(
        OrderAdjustment(
            order_id=order_id,
            kind="points_reversal",
            reference=reference,
            external_id=reversal.reversal_id,
            amount_cents=reversal.amount_reversed_cents,
            points=reversal.points_reversed,
            created_at=utcnow(),
        )
    )
    db.session.commit()
    return reversal.points_reversed
