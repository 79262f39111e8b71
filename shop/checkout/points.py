"""Applying points to a paid order: the offer from the live balance, the redemption, settling an unknown one.

The order's reference is the redemption's reference (the bank's idempotency key), so a retry, a crash
mid-call or a second tab repeats the same request and points are never taken twice. The "check needed" flag
is committed before the redemption is sent (through ``call_bank``), so an unknown outcome is settled by the
bank's look-up, never by guessing.
"""

from __future__ import annotations

import logging
from typing import Any

from ..database import commit_keeping_loaded_state
from ..extensions import db
from ..issuer_client import (
    AlreadyProcessed,
    InvalidRewardLink,
    IssuerClient,
    IssuerError,
    IssuerUnavailable,
    NotFound,
    OutcomeUnknown,
    Redemption,
)
from ..models import CardLink, Order
from ..orders.bank_call import BankRefused, call_bank, record_intent
from .card_link import (
    NoActiveLink,
    PointsError,
    active_link,
    ensure_points_possible,
    fail,
    forget_link,
    record_failure,
)
from .events import has_event, record_event
from .offer import PointsOffer, make_offer, validate_points

logger = logging.getLogger(__name__)


class PointsOutcomeUnknown(PointsError):
    """The redemption may or may not have happened and the look-up could not tell yet."""


def show_offer(order: Order, link: CardLink | None) -> str:
    """Record that the points step was shown (once per order). Returns the step: "balance" or "enrol".

    ``link`` is the order's card link as ``card_link`` read it in this request (the page shows it too).
    """
    ensure_points_possible(order)
    if not has_event(order, "offer_shown"):
        record_event(order, "offer_shown")
        # The page goes on with the order and link it read under the lock (a balance call re-reads the order).
        commit_keeping_loaded_state()
    return "balance" if link is not None and link.status == "ACTIVE" else "enrol"


def points_offer(order: Order, client: IssuerClient, link: CardLink | None = None) -> PointsOffer:
    """The live balance as an offer for this order. A link the bank no longer knows is dropped.

    ``link``: the order's card link if the caller read it in this transaction already (else it is read here).
    """
    ensure_points_possible(order)
    if link is None:
        link = active_link(order)
    if link is None or link.status != "ACTIVE":
        raise NoActiveLink("Link your card first.")
    code = link.reward_link_code
    order_total_cents = order.total_cents - order.refunded_cents
    try:
        balance = call_bank(order, lambda: client.balance(code))
    except InvalidRewardLink as error:
        # E.g. the sandbox was reset: forget the link so the shopper can verify again.
        forget_link(order, code)
        record_failure(order, error)
        raise NoActiveLink("Your card link has expired; verify your card again.") from error
    except IssuerError as error:
        fail(order, error)
    return make_offer(balance, order_total_cents)


def skip_points(order: Order) -> None:
    """The shopper chose not to use points (or could not): record it once."""
    if not order.points_skipped:
        order.points_skipped = True
        record_event(order, "skipped")
    db.session.commit()


def apply_points(order: Order, points: int, client: IssuerClient) -> Order:
    """Redeem ``points`` against the paid order; the order's reference is the redemption's reference.

    The offer is recomputed from the live balance, so whatever the browser sent is checked again. On an
    unknown outcome the bank is asked by reference once; if it has no record, the same request is sent once
    more (the bank replays it if the first did land, so points are never taken twice).
    """
    ensure_points_possible(order)
    if order.points_check_needed and reconcile_points(order, client):
        return order
    offer = points_offer(order, client)
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
    record_intent(order)
    try:
        redemption = call_bank(order, lambda: _redeem_or_look_up(request, client))
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
        raise BankRefused.from_issuer(error) from error
    record_redemption(order, redemption, offer.increment)
    commit_keeping_loaded_state()  # the view only shows the points and credit just recorded
    return order


def _redeem_or_look_up(request: dict[str, Any], client: IssuerClient) -> Redemption:
    """Redeem; on an unknown outcome look the reference up, and send the same request again if it is unknown."""
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


def reconcile_points(order: Order, client: IssuerClient, *, stale: bool = False) -> bool:
    """Settle an earlier unknown redemption by the bank's look-up (own transactions). True when one was found."""
    return confirm_redemption(order, client, stale=stale) == "redeemed"


def confirm_redemption(order: Order, client: IssuerClient, *, stale: bool) -> str:
    """Settle an unknown redemption by look-up: "redeemed", "not made", "unknown", or "" (nothing was unknown).

    The bank having no record settles it as not made only when the intent is ``stale``: a fresher one may still
    be on its way (a worker waiting on it, or a request the bank has not committed yet), and clearing the flag
    then would let a late redemption go unrecorded while the order is cancelled or redeemed again.
    """
    if not order.points_check_needed:
        return ""
    reference = order.reference
    try:
        redemption = call_bank(order, lambda: client.find_redemption(reference))
    except NotFound:
        if not order.points_check_needed:
            db.session.commit()
            return ""  # another tab settled it while we asked
        if stale and not order.redemption_order_id:
            order.points_check_needed = False
            db.session.commit()
            return "not made"
        db.session.commit()
        return "unknown"
    except IssuerError as error:
        logger.warning("Redemption look-up of %s failed (%s): outcome still unknown", reference, error.code)
        return "unknown"
    record_redemption(order, redemption, order.points_increment)
    db.session.commit()
    return "redeemed"


def record_redemption(order: Order, redemption: Redemption, increment: int) -> None:
    """Record the bank's redemption on the order, unless another tab recorded it first (the caller commits)."""
    order.points_check_needed = False
    if order.redemption_order_id == redemption.order_id:
        return  # another tab recorded it first
    order.redemption_order_id = redemption.order_id
    order.points_used = redemption.points_redeemed
    order.statement_credit_cents = redemption.redeemed_amount_cents
    order.points_increment = increment or order.points_increment or 1
    if order.status == "PAID":
        order.status = "POINTS_APPLIED"
    record_event(order, "points_redeemed", detail=f"{redemption.points_redeemed} points")
