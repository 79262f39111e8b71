"""Partner API: points balance, redemption, redemption look-ups and reversals (thin views over redemptions.py)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify

from .. import clock, redemptions, schemas
from .auth import partner_required
from .errors import RequestInvalid
from .paths import REWARDS, route
from .validation import parse_body, validate_query

bp = Blueprint("redemptions", __name__)


def _stored_response(outcome: redemptions.Outcome) -> Response:
    """The money call's JSON exactly as first returned; a replay says so in a header."""
    response = current_app.response_class(outcome.body, status=200, mimetype="application/json")
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _redemption_order(body: schemas.RedemptionRequest) -> redemptions.RedemptionOrder:
    order = body.order
    currency = current_app.config["CURRENCY_CODE"]
    if order.currency_code != currency:
        raise RequestInvalid(f"redemptionOrder.currencyCode must be one of: {currency}.")
    return redemptions.RedemptionOrder(
        transaction_reference=body.transaction_reference,
        transaction_amount=order.transaction_amount,
        currency_code=order.currency_code,
        points=order.points,
        description=order.description,
    )


def _reversal_order(body: schemas.ReversalRequest) -> redemptions.ReversalOrder:
    return redemptions.ReversalOrder(
        order_id=body.order_id, reversal_reference=body.reversal_reference, points=body.points
    )


@route(bp, f"{REWARDS}/<reward_link_code>/pointBalance", ["GET"])
@partner_required
def point_balance(reward_link_code: str):
    """The linked card's points, their value and the limits of one redemption."""
    balance = redemptions.point_balance(g.partner_client.id, reward_link_code)
    body = schemas.PointBalance(
        eligible=balance.eligible,
        available_points=balance.available_points,
        conversion_rate=balance.conversion_rate,
        currency_code=balance.currency_code,
        point_increment=balance.point_increment,
        minimum_points=balance.minimum_points,
        maximum_points=balance.maximum_points,
    )
    return current_app.response_class(body.to_json(), mimetype="application/json")


@route(bp, f"{REWARDS}/<reward_link_code>/redemption", ["POST"])
@partner_required
def redeem(reward_link_code: str):
    """Redeem points as a statement credit; a repeated transactionReferenceNumber replays the first answer."""
    order = _redemption_order(parse_body(schemas.RedemptionRequest))
    outcome = redemptions.redeem(
        g.partner_client.id, reward_link_code, order, clock.now(), g.partner_client.merchant_name
    )
    return _stored_response(outcome)


@route(bp, f"{REWARDS}/redemption/<order_id>", ["GET"])
@partner_required
def redemption_by_order_id(order_id: str):
    """A redemption and its reversals, by orderId."""
    redemption = redemptions.find_redemption(g.partner_client.id, order_id)
    return jsonify(redemptions.redemption_details(redemption))


@route(bp, f"{REWARDS}/redemption", ["GET"])
@partner_required
def redemption_by_reference():
    """A redemption and its reversals, by the merchant's transactionReferenceNumber."""
    reference = validate_query(schemas.Reference, "transactionReferenceNumber")
    redemption = redemptions.find_redemption_by_reference(g.partner_client.id, reference)
    return jsonify(redemptions.redemption_details(redemption))


@route(bp, f"{REWARDS}/redemption/reversals", ["POST"])
@partner_required
def reverse():
    """Reverse some or all of a redemption; a repeated reversalReferenceNumber replays the first answer."""
    order = _reversal_order(parse_body(schemas.ReversalRequest))
    outcome = redemptions.reverse(g.partner_client.id, order, clock.now(), g.partner_client.merchant_name)
    return _stored_response(outcome)
