"""Linking the paying card to Pay with Points: enrol with the mobile number, the one-time code, resend, restart.

Plain functions, no flask.request. Each bank call goes through ``call_bank`` (orders/bank_call.py) with every
argument read beforehand; the step then records its PwpEvent (also on failure, with the bank's code) in a
new transaction and commits, and returns or raises ``BankRefused`` (the bank's answer, as the shop's own error).
"""

from __future__ import annotations

from typing import NoReturn

import sqlalchemy as sa

from ..database import commit_keeping_loaded_state
from ..extensions import db
from ..issuer_client import IssuerClient, IssuerError
from ..models import CardLink, Order, customer_reference
from ..orders.bank_call import BankRefused, call_bank
from ..orders.rules import utcnow
from .events import record_event

POINTS_STATUSES = ("PAID",)  # points can be applied only to a paid order without points yet


class PointsError(Exception):
    """Base of the shop's own Pay with Points errors."""


class PointsNotOffered(PointsError):
    """This order cannot take points (not paid, not a points card, already applied, cancelled)."""


class NoActiveLink(PointsError):
    """The shopper has not linked this card yet (or the bank no longer knows the link)."""


def ensure_points_possible(order: Order) -> None:
    """Raise PointsNotOffered unless the order is paid by a points card and has no points yet."""
    if order.status not in POINTS_STATUSES or not order.card_points_eligible or not order.offers_points_at_checkout:
        raise PointsNotOffered("Points cannot be used on this order.")


_CARD_LINK = sa.select(CardLink).where(
    CardLink.user_id == sa.bindparam("user_id"), CardLink.card_last4 == sa.bindparam("card_last4")
)  # built once (see orders/rules.py's _ORDER)


def card_link(order: Order) -> CardLink | None:
    """The shopper's link for the card that paid this order, whatever its status."""
    if not order.card_last4:
        return None
    return db.session.scalar(_CARD_LINK, {"user_id": order.user_id, "card_last4": order.card_last4})


def active_link(order: Order) -> CardLink | None:
    """The shopper's ACTIVE link for this order's card, if any."""
    link = card_link(order)
    return link if link is not None and link.status == "ACTIVE" else None


def forget_unverified_link(order: Order) -> None:
    """Drop a pending or locked link so the shopper can ask for a new code (or give another number)."""
    link = card_link(order)
    if link is not None and link.status != "ACTIVE":
        db.session.delete(link)
        db.session.commit()


def send_code(order: Order, phone: str, client: IssuerClient, language: str = "en") -> CardLink:
    """Enrol the card with the mobile the shopper confirmed; the bank texts an OTP (in the shopper's
    ``language``, an Accept-Language value) unless the card is already linked."""
    ensure_points_possible(order)
    last4 = order.card_last4 or ""
    shopper = customer_reference(order.user_id)
    try:
        enrollment = call_bank(order, lambda: client.enroll(last4, phone, shopper, language))
    except IssuerError as error:
        fail(order, error)
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
    commit_keeping_loaded_state()  # the view only shows the link's status and masked phone
    return link


def resend_code(order: Order, client: IssuerClient, language: str = "en") -> CardLink:
    """Ask the bank for a new OTP for the pending link (the bank enforces the 30 s cooldown and 3 resends)."""
    ensure_points_possible(order)
    code = _pending_link(order).reward_link_code
    try:
        call_bank(order, lambda: client.resend_otp(code, language))
    except IssuerError as error:
        fail(order, error)
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
    try:
        call_bank(order, lambda: client.verify_otp(code, otp))
    except IssuerError as error:
        if error.code in ("maxAttemptsExceeded", "invalidRewardLinkCode"):
            # The link is locked or gone: the next attempt starts with a fresh enrolment.
            forget_link(order, code)
        fail(order, error)
    link = _link_with_code(order, code)
    if link is None:
        raise NoActiveLink("There is no code waiting for this card.")
    link.status = "ACTIVE"
    link.activated_at = utcnow()
    record_event(order, "verified")
    db.session.commit()
    return link


def forget_link(order: Order, code: str) -> None:
    """Delete the shopper's link for this card if it still has ``code`` (the caller commits)."""
    link = _link_with_code(order, code)
    if link is not None:
        db.session.delete(link)


def record_failure(order: Order, error: IssuerError) -> None:
    """Record the failed step with the bank's code; commit so the event outlives the error."""
    record_event(order, "failed", code=error.code, detail=error.details)
    db.session.commit()


def fail(order: Order, error: IssuerError) -> NoReturn:
    """Record the failed step, then raise the bank's answer as the shop's own BankRefused."""
    record_failure(order, error)
    raise BankRefused.from_issuer(error) from error


def _pending_link(order: Order) -> CardLink:
    link = card_link(order)
    if link is None or link.status == "ACTIVE":
        raise NoActiveLink("There is no code waiting for this card.")
    return link


def _link_with_code(order: Order, code: str) -> CardLink | None:
    """The shopper's link for this card if it still has ``code`` (another tab may have replaced it)."""
    link = card_link(order)
    return link if link is not None and link.reward_link_code == code else None
