"""Pay with Points rules: the points maths, the link/OTP steps and the events that measure uptake.

Plain functions, no flask.request. No transaction stays open while the bank is asked (``end_transaction``
first, with every argument read beforehand); the step then records its PwpEvent (also on failure, with the
bank's code) in a new transaction and commits, and returns or re-raises the bank's named error for the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from .extensions import db
from .issuer_client import Balance, InvalidRewardLink, IssuerClient, IssuerError
from .models import CardLink, Order, PwpEvent

EVENT_KINDS = (
    "card_paid_eligible",
    "offer_shown",
    "code_sent",
    "verified",
    "points_redeemed",
    "skipped",
    "failed",
)
POINTS_STATUSES = ("PAID",)  # points can be applied only to a paid order without points yet


class PwpError(Exception):
    """Base of the shop's own Pay with Points errors."""


class PointsNotOffered(PwpError):
    """This order cannot take points (not paid, not a points card, already applied, cancelled)."""


class InvalidPoints(PwpError):
    """The points chosen break the programme's rules for this order.

    ``reason`` is one of not_eligible | below_minimum | above_maximum | increment; ``limit`` the number broken.
    """

    def __init__(self, reason: str, limit: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit


class NoActiveLink(PwpError):
    """The shopper has not linked this card yet (or the bank no longer knows the link)."""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def end_transaction() -> None:
    """Commit what is pending and end the transaction before waiting on the bank.

    SQLite's write lock is taken by every transaction (see database.py), so one open across a slow issuer
    call would stall every shopper. After this, touching an ORM attribute reloads it in a new transaction,
    so callers read what the call needs into locals first.
    """
    db.session.commit()


# --- Maths --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsOffer:
    """What the shopper may redeem on this order, from the bank's live balance."""

    available_points: int
    rate: Decimal  # currency per point
    increment: int
    minimum: int
    maximum: int  # the most this order allows (0 when the offer is not possible)
    order_total_cents: int
    currency_code: str = "HKD"
    eligible: bool = True

    @property
    def balance_value_cents(self) -> int:
        """What the whole balance is worth, in cents."""
        return credit_cents(self.available_points, self.rate)

    def credit_for(self, points: int) -> int:
        return credit_cents(points, self.rate)

    def net_cost_for(self, points: int) -> int:
        return self.order_total_cents - self.credit_for(points)


def max_points_for_order(balance: Balance, order_total_cents: int) -> int:
    """min(maximumPointsToRedeem, balance, floor(total / rate / increment) * increment), in whole increments."""
    increment = max(balance.increment, 1)
    if balance.conversion_rate <= 0:
        return 0
    total = Decimal(order_total_cents) / 100
    by_amount = int((total / balance.conversion_rate / increment).to_integral_value(rounding=ROUND_DOWN)) * increment
    cap = min(balance.maximum, balance.available_points, by_amount)
    return max(cap - cap % increment, 0)


def credit_cents(points: int, rate: Decimal) -> int:
    """The statement credit that ``points`` earn: points x rate, in cents (exact for whole increments)."""
    return int((Decimal(points) * rate * 100).to_integral_value(rounding=ROUND_HALF_UP))


def make_offer(balance: Balance, order_total_cents: int) -> PointsOffer:
    """The offer for this order from the balance response."""
    maximum = max_points_for_order(balance, order_total_cents)
    return PointsOffer(
        available_points=balance.available_points,
        rate=balance.conversion_rate,
        increment=max(balance.increment, 1),
        minimum=balance.minimum,
        maximum=maximum,
        order_total_cents=order_total_cents,
        currency_code=balance.currency_code,
        eligible=balance.is_redemption_eligible and maximum >= max(balance.minimum, 1),
    )


def validate_points(points: int, offer: PointsOffer) -> int:
    """Check the shopper's choice against the offer (the server never trusts the browser's maths)."""
    if not offer.eligible:
        raise InvalidPoints("not_eligible", offer.minimum, "This order cannot use points.")
    if points < offer.minimum:
        raise InvalidPoints("below_minimum", offer.minimum, f"Use at least {offer.minimum:,} points.")
    if points > offer.maximum:
        raise InvalidPoints(
            "above_maximum", offer.maximum, f"You can use at most {offer.maximum:,} points on this order."
        )
    if points % offer.increment:
        raise InvalidPoints("increment", offer.increment, f"Points are used in steps of {offer.increment:,}.")
    return points


def floor_to_increment(points: int, increment: int) -> int:
    increment = max(increment, 1)
    return points - points % increment


# --- Events -------------------------------------------------------------------------------------


def record_event(order: Order, kind: str, code: str = "", detail: str = "") -> PwpEvent:
    """Add a timestamped Pay with Points event for this order (the caller's transaction commits it)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"Unknown event kind {kind!r}")
    event = PwpEvent(order_id=order.id, user_id=order.user_id, kind=kind, code=code[:60], detail=detail[:200])
    event.at = utcnow()
    db.session.add(event)
    return event


def has_event(order: Order, kind: str) -> bool:
    return (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(PwpEvent).where(PwpEvent.order_id == order.id, PwpEvent.kind == kind)
        )
        > 0
    )


# --- Links and the OTP steps --------------------------------------------------------------------


def card_link(order: Order) -> CardLink | None:
    """The shopper's link for the card that paid this order, whatever its status."""
    if not order.card_last4:
        return None
    return db.session.scalar(
        sa.select(CardLink).where(CardLink.user_id == order.user_id, CardLink.card_last4 == order.card_last4)
    )


def forget_unverified_link(order: Order) -> None:
    """Drop a pending or locked link so the shopper can ask for a new code (or give another number)."""
    link = card_link(order)
    if link is not None and link.status != "ACTIVE":
        db.session.delete(link)
        db.session.commit()


def active_link(order: Order) -> CardLink | None:
    link = card_link(order)
    return link if link is not None and link.status == "ACTIVE" else None


def ensure_points_possible(order: Order) -> None:
    if order.status not in POINTS_STATUSES or not order.card_points_eligible:
        raise PointsNotOffered("Points cannot be used on this order.")


def show_offer(order: Order) -> str:
    """Record that the points step was shown (once per order). Returns the step: "balance" or "enrol"."""
    ensure_points_possible(order)
    if not has_event(order, "offer_shown"):
        record_event(order, "offer_shown")
        db.session.commit()
    return "balance" if active_link(order) else "enrol"


def send_code(order: Order, phone: str, client: IssuerClient) -> CardLink:
    """Enrol the card with the mobile the shopper confirmed; the bank texts an OTP unless already linked."""
    ensure_points_possible(order)
    last4 = order.card_last4 or ""
    customer_reference = order.user.customer_reference
    end_transaction()
    try:
        enrollment = client.enroll(last4, phone, customer_reference)
    except IssuerError as error:
        _fail(order, error)
        raise
    now = utcnow()
    link = card_link(order)
    if link is None:
        link = CardLink(user_id=order.user_id, card_last4=last4, created_at=now)
        db.session.add(link)
    link.reward_link_code = enrollment.reward_link_code
    link.status = enrollment.link_status
    link.masked_phone = enrollment.masked_phone
    if enrollment.is_active:
        link.activated_at = link.activated_at or now
    else:
        link.otp_sent_at = now
        link.activated_at = None
        record_event(order, "code_sent", detail=enrollment.masked_phone)
    db.session.commit()
    return link


def resend_code(order: Order, client: IssuerClient) -> CardLink:
    """Ask the bank for a new OTP for the pending link (the bank enforces the 30 s cooldown and 3 resends)."""
    ensure_points_possible(order)
    code = _pending_link(order).reward_link_code
    end_transaction()
    try:
        client.resend_otp(code)
    except IssuerError as error:
        _fail(order, error)
        raise
    link = _link_with_code(order, code)
    if link is None:
        raise NoActiveLink("There is no code waiting for this card.")
    link.otp_sent_at = utcnow()
    record_event(order, "code_sent", detail="resend")
    db.session.commit()
    return link


def verify_code(order: Order, otp: str, client: IssuerClient) -> CardLink:
    """Activate the pending link with the OTP the shopper typed."""
    ensure_points_possible(order)
    code = _pending_link(order).reward_link_code
    end_transaction()
    try:
        client.verify_otp(code, otp)
    except IssuerError as error:
        if error.code in ("maxAttemptsExceeded", "invalidRewardLinkCode"):
            # The link is locked or gone: the next attempt starts with a fresh enrolment.
            _forget_link(order, code)
        _fail(order, error)
        raise
    link = _link_with_code(order, code)
    if link is None:
        raise NoActiveLink("There is no code waiting for this card.")
    link.status = "ACTIVE"
    link.activated_at = utcnow()
    record_event(order, "verified")
    db.session.commit()
    return link


def points_offer(order: Order, client: IssuerClient) -> PointsOffer:
    """The live balance as an offer for this order. A link the bank no longer knows is dropped."""
    ensure_points_possible(order)
    link = active_link(order)
    if link is None:
        raise NoActiveLink("Link your card first.")
    code = link.reward_link_code
    order_total_cents = order.total_cents - order.refunded_cents
    end_transaction()
    try:
        balance = client.balance(code)
    except InvalidRewardLink as error:
        # E.g. the sandbox was reset: forget the link so the shopper can verify again.
        _forget_link(order, code)
        _fail(order, error)
        raise NoActiveLink("Your card link has expired; verify your card again.") from error
    except IssuerError as error:
        _fail(order, error)
        raise
    return make_offer(balance, order_total_cents)


def skip_points(order: Order) -> None:
    """The shopper chose not to use points (or could not): record it once."""
    if not order.points_skipped:
        order.points_skipped = True
        record_event(order, "skipped")
    db.session.commit()


def _pending_link(order: Order) -> CardLink:
    link = card_link(order)
    if link is None or link.status == "ACTIVE":
        raise NoActiveLink("There is no code waiting for this card.")
    return link


def _link_with_code(order: Order, code: str) -> CardLink | None:
    """The shopper's link for this card if it still has ``code`` (another tab may have replaced it)."""
    link = card_link(order)
    return link if link is not None and link.reward_link_code == code else None


def _forget_link(order: Order, code: str) -> None:
    link = _link_with_code(order, code)
    if link is not None:
        db.session.delete(link)


def _fail(order: Order, error: IssuerError) -> None:
    """Record the failed step with the bank's code; commit so the event outlives the error."""
    record_event(order, "failed", code=error.code, detail=error.details)
    db.session.commit()
