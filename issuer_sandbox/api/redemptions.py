"""Partner API: points balance, redemption, redemption look-ups and reversals (thin views over redemptions.py)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from .. import clock, redemptions
from .auth import partner_required
from .parsing import (
    REFERENCE_PATTERN,
    invalid,
    json_body,
    parse_amount,
    reject_unknown_fields,
    require_currency,
    require_object,
    require_points,
    require_string,
)
from .paths import REWARDS, route

bp = Blueprint("redemptions", __name__)

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _stored_response(outcome: redemptions.Outcome) -> Response:
    """The money call's JSON exactly as first returned; a replay says so in a header."""
    response = current_app.response_class(outcome.body, status=200, mimetype="application/json")
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _reference(body: dict[str, Any], name: str, max_length: int = 64) -> str:
    value = require_string(body, name, max_length, REFERENCE_PATTERN)
    # The pattern's "$" would let a trailing newline through; a reference is exactly these characters.
    if not REFERENCE_PATTERN.fullmatch(value):
        raise invalid(f"{name} has characters that are not allowed.")
    return value


def _description(body: dict[str, Any], name: str) -> str:
    value = require_string(body, name, redemptions.MAX_DESCRIPTION_LENGTH)
    if _CONTROL_CHARACTERS.search(value):
        raise invalid(f"{name} must not contain control characters.")
    return value


def _redemption_order(body: dict[str, Any]) -> redemptions.RedemptionOrder:
    reject_unknown_fields(body, {"transactionReferenceNumber", "redemptionOrder"})
    reference = _reference(body, "transactionReferenceNumber")
    order = require_object(body, "redemptionOrder")
    reject_unknown_fields(order, {"transactionAmount", "currencyCode", "pointsToRedeem", "transactionDescription"})
    return redemptions.RedemptionOrder(
        transaction_reference=reference,
        transaction_amount=parse_amount(order.get("transactionAmount"), "transactionAmount"),
        currency_code=require_currency(order, "currencyCode", (current_app.config["CURRENCY_CODE"],)),
        points=require_points(order, "pointsToRedeem"),
        description=_description(order, "transactionDescription"),
    )


def _reversal_order(body: dict[str, Any]) -> redemptions.ReversalOrder:
    reject_unknown_fields(body, {"orderId", "reversalReferenceNumber", "pointsToReverse"})
    return redemptions.ReversalOrder(
        order_id=_reference(body, "orderId", 40),
        reversal_reference=_reference(body, "reversalReferenceNumber"),
        points=require_points(body, "pointsToReverse"),
    )


@route(bp, f"{REWARDS}/<reward_link_code>/pointBalance", ["GET"])
@partner_required
def point_balance(reward_link_code: str):
    """The linked card's points, their value and the limits of one redemption."""
    balance = redemptions.point_balance(g.partner_client.id, reward_link_code)
    return jsonify(
        {
            "isRedemptionEligible": balance.eligible,
            "availablePointBalance": balance.available_points,
            "programConversionRate": balance.conversion_rate,
            "currencyCode": balance.currency_code,
            "redemptionPointIncrement": balance.point_increment,
            "minimumPointsToRedeem": balance.minimum_points,
            "maximumPointsToRedeem": balance.maximum_points,
        }
    )


@route(bp, f"{REWARDS}/<reward_link_code>/redemption", ["POST"])
@partner_required
def redeem(reward_link_code: str):
    """Redeem points as a statement credit; a repeated transactionReferenceNumber replays the first answer."""
    order = _redemption_order(json_body())
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
    reference = _reference(request.args.to_dict(), "transactionReferenceNumber")
    redemption = redemptions.find_redemption_by_reference(g.partner_client.id, reference)
    return jsonify(redemptions.redemption_details(redemption))


@route(bp, f"{REWARDS}/redemption/reversals", ["POST"])
@partner_required
def reverse():
    """Reverse some or all of a redemption; a repeated reversalReferenceNumber replays the first answer."""
    order = _reversal_order(json_body())
    outcome = redemptions.reverse(g.partner_client.id, order, clock.now(), g.partner_client.merchant_name)
    return _stored_response(outcome)
