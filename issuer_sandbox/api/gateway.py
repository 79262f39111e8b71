"""The card gateway (stands in for the shop's acquirer): payments, refunds and their look-ups.

Amounts here are integer cents (JSON integers), unlike the partner API's decimal strings.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from .. import clock, payments
from ..money import MAX_AMOUNT_CENTS
from ..payments import CardDetails, Outcome
from .auth import gateway_required
from .parsing import (
    REFERENCE_PATTERN,
    invalid,
    json_body,
    optional_string,
    reject_unknown_fields,
    require_currency,
    require_object,
    require_reference,
    require_string,
)
from .paths import GATEWAY, route

bp = Blueprint("gateway", __name__)

IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
CARD_NUMBER_PATTERN = re.compile(r"^[0-9 ]{1,30}$")
PAYMENT_FIELDS = {"amount", "currency", "card", "merchantReference"}
CARD_FIELDS = {"number", "expiryMonth", "expiryYear", "cvc", "holderName"}


@route(bp, f"{GATEWAY}/payments", ["POST"])
@gateway_required
def create_payment():
    """Charge a card: 201 with status CAPTURED or DECLINED (a decline is not an error)."""
    key = idempotency_key()
    body = json_body()
    reject_unknown_fields(body, PAYMENT_FIELDS)
    amount = require_cents(body, "amount")
    currency = require_currency(body, "currency")
    card = parse_card(require_object(body, "card"))
    reference = require_reference(body, "merchantReference")
    outcome = payments.create_payment(
        g.partner_client, key, amount, currency, card, reference, clock.now(), fingerprint_key()
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
    reference = request.args.get("merchantReference", "")
    if not REFERENCE_PATTERN.match(reference):
        raise invalid("The merchantReference query parameter is required (1-64 letters, digits, '.', '_', '-').")
    found = payments.payments_by_reference(g.partner_client, reference)
    return jsonify({"payments": [payments.payment_view(payment) for payment in found]})


@route(bp, f"{GATEWAY}/payments/<payment_id>/refunds", ["POST"])
@gateway_required
def create_refund(payment_id: str):
    """Refund part or all of a captured payment."""
    key = idempotency_key()
    body = json_body()
    reject_unknown_fields(body, {"amount"})
    amount = require_cents(body, "amount")
    outcome = payments.refund_payment(g.partner_client, payment_id, key, amount, clock.now())
    return outcome_response(outcome)


# --- Helpers ------------------------------------------------------------------------------------


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise invalid("The Idempotency-Key header is required.")
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise invalid("The Idempotency-Key header must be 1-80 letters, digits, '.', '_' or '-'.")
    return key


def require_cents(body: dict[str, Any], name: str) -> int:
    """A positive amount in cents, as a JSON integer (not a string, fraction, boolean or float)."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{name} is required: a whole number of cents as a JSON integer, such as 52000.")
    if value <= 0:
        raise invalid(f"{name} must be positive.")
    if value > MAX_AMOUNT_CENTS:
        raise invalid(f"{name} is too large.")
    return value


def parse_card(card: dict[str, Any]) -> CardDetails:
    """The card object: shape errors are 400s; a wrong number, expiry or CVC is a decline, not an error."""
    reject_unknown_fields(card, CARD_FIELDS)
    number = require_string(card, "number", 30)
    if not CARD_NUMBER_PATTERN.match(number):
        raise invalid("card.number must contain only digits and spaces.")
    month = _whole_number(card, "expiryMonth")
    if not 1 <= month <= 12:
        raise invalid("card.expiryMonth must be between 1 and 12.")
    year = _whole_number(card, "expiryYear")
    if year < 100:
        year += 2000  # "28" on the card means 2028
    if not 2000 <= year <= 2099:
        raise invalid("card.expiryYear must be a year such as 2028 (or 28).")
    cvc = card.get("cvc")
    if not isinstance(cvc, str) or len(cvc) > 8:
        raise invalid("card.cvc is required: the 3 digits on the back of the card, as a string.")
    holder = optional_string(card, "holderName", 80)
    return CardDetails(number.replace(" ", ""), month, year, cvc, holder.strip())


def _whole_number(card: dict[str, Any], name: str) -> int:
    value = card.get(name)
    if isinstance(value, str) and re.fullmatch(r"\d{1,4}", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"card.{name} is required: a whole number.")
    return value


def fingerprint_key() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def outcome_response(outcome: Outcome) -> Response:
    response = jsonify(outcome.body)
    response.status_code = 201
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
