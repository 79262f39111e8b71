"""The card gateway (stands in for the shop's acquirer): payments, refunds and their look-ups.

Amounts here are integer cents (JSON integers), unlike the partner API's decimal strings.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from .. import clock, payments, schemas
from ..payments import CardDetails, Outcome, RedemptionOffer
from .auth import gateway_required
from .errors import RequestInvalid
from .paths import GATEWAY, route
from .validation import parse_body, validate_query

bp = Blueprint("gateway", __name__)

IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


@route(bp, f"{GATEWAY}/payments", ["POST"])
@gateway_required
def create_payment():
    """Charge a card: 201 with status CAPTURED or DECLINED (a decline is not an error)."""
    key = idempotency_key()
    body = parse_body(schemas.PaymentRequest)
    card = body.card
    details = CardDetails(
        card.number.replace(" ", ""), card.expiry_month, card.expiry_year, card.cvc, (card.holder_name or "").strip()
    )
    outcome = payments.create_payment(
        g.partner_client,
        key,
        body.amount,
        body.currency,
        details,
        body.merchant_reference,
        clock.now(),
        fingerprint_key(),
        flow=body.pwp_flow,
        offer=RedemptionOffer(current_app.config["BANK_NAME"], url_for("rewards_site.identify", _external=True)),
    )
    response = outcome_response(outcome)
    # The payment's URL under the path this call came in on (primary or alias).
    response.headers["Location"] = f"{request.path.rstrip('/')}/{outcome.body['paymentId']}"
    return response


@route(bp, f"{GATEWAY}/payments/<payment_id>", ["GET"])
@gateway_required
def get_payment(payment_id: str):
    """One payment with its refunds: how the shop learns the outcome after a timeout."""
    payment = payments.find_payment(g.partner_client, payment_id)
    return jsonify(payments.payment_view(payment))


@route(bp, f"{GATEWAY}/payments", ["GET"])
@gateway_required
def list_payments():
    """The merchant's payments with one merchant reference (oldest first)."""
    reference = validate_query(schemas.Reference, "merchantReference")
    found = payments.payments_by_reference(g.partner_client, reference)
    return jsonify({"payments": [payments.payment_view(payment) for payment in found]})


@route(bp, f"{GATEWAY}/payments/<payment_id>/refunds", ["POST"])
@gateway_required
def create_refund(payment_id: str):
    """Refund part or all of a captured payment."""
    key = idempotency_key()
    body = parse_body(schemas.RefundRequest)
    outcome = payments.refund_payment(g.partner_client, payment_id, key, body.amount, clock.now())
    return outcome_response(outcome)


# --- Helpers ------------------------------------------------------------------------------------


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise RequestInvalid("The Idempotency-Key header is required.")
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise RequestInvalid("The Idempotency-Key header must be 1-80 letters, digits, '.', '_' or '-'.")
    return key


def fingerprint_key() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def outcome_response(outcome: Outcome) -> Response:
    response = jsonify(outcome.body)
    response.status_code = 201
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
