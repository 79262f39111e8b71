"""The sandbox's JSON controls for testers under /sandbox/api, guarded by the X-Sandbox-Key header.

The JSON twin of the console: the SMS outbox, the clock, reset and the request log (blueprint ``sandbox``), and
cards, points, test cardholders, faults, ledger health and links (blueprint ``sandbox_controls``). Two
blueprints because fault rules, the request log and testers' scripts know the endpoints by these names.
Handlers parse, call a rules function and render: changes commit inside ``controls``, ``clock`` and ``seed``,
reads go through ``inspection``; nothing here touches the database session.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Annotated, Any, Literal, TypeVar

from flask import Blueprint, current_app, jsonify, request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .. import clock, controls, inspection, ledger, links, seed
from ..errors import RuleError
from ..models import Card, CardStatementLine, FaultRule, RequestLogEntry, RewardLink
from ..money import amount_to_cents, cents_to_amount, parse_amount
from ..otp import otp_in_sms
from ..request_log import writer as request_log_writer
from .errors import RequestInvalid
from .validation import parse_body

F = TypeVar("F", bound=Callable)

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox/api")
controls_bp = Blueprint("sandbox_controls", __name__, url_prefix="/sandbox/api")
blueprints = (bp, controls_bp)

MAX_LIMIT = 500
MAX_CLOCK_ADVANCE_SECONDS = 10 * 366 * 24 * 3600  # ten years is plenty for any expiry test
LINK_STATUSES = ("PENDING_ACTIVATION", "ACTIVE", "LOCKED", "UNLINKED")
MAX_WHOLE_NUMBER = 10**12


# --- Request bodies -------------------------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is required and must not be blank")
    return value


def _amount_shape(value: Any) -> Any:
    """An amount arrives as a decimal string or a JSON number; money.parse_amount then checks its value."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError('must be a decimal string such as "50000.00"')
    return value


WholeNumber = Annotated[int, Field(ge=-MAX_WHOLE_NUMBER, le=MAX_WHOLE_NUMBER)]
Text = Annotated[str, AfterValidator(_not_blank)]
WireAmount = Annotated[str | int | Decimal, BeforeValidator(_amount_shape)]


class RequestBody(BaseModel):
    """A sandbox API body: JSON types as sent (no coercion: "100" is not a number), unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel, frozen=True)


class ClockAdvance(RequestBody):
    seconds: Annotated[int, Field(ge=0, le=MAX_CLOCK_ADVANCE_SECONDS)]


class PointsAdjustment(RequestBody):
    delta: WholeNumber
    reason: Annotated[Text, Field(max_length=controls.REASON_MAX_LENGTH)]


class TestCardholderRequest(RequestBody):
    name: Annotated[Text, Field(max_length=80)]
    mobile: Annotated[Text, Field(max_length=16)]
    programme: Literal["REWARDS", "PREMIER"] | None = "REWARDS"  # None: a debit card without points
    points: WholeNumber | None = 0
    credit_limit: WireAmount = "50000.00"


class FaultRequest(RequestBody):
    endpoint: Annotated[Text, Field(max_length=80)]
    latency_ms: WholeNumber | None = 0
    error_status: WholeNumber | None = None
    error_code: Annotated[str, Field(max_length=60)] | None = None
    fail_times: WholeNumber | None = None
    drop_response_after_commit: bool = False


class SandboxKeyInvalid(RuleError):
    """The X-Sandbox-Key header is missing or wrong."""

    status = 401
    code = "invalidSandboxKey"
    sandbox_only = True


def sandbox_key_required(view: F) -> F:
    """Refuse the call unless the X-Sandbox-Key header equals config SANDBOX_KEY (401 invalidSandboxKey)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        given = request.headers.get("X-Sandbox-Key", "")
        expected = current_app.config["SANDBOX_KEY"] or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SandboxKeyInvalid("Send the sandbox key in the X-Sandbox-Key header.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _limit(default: int = 50) -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise RequestInvalid(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


# --- SMS outbox, clock, reset and the request log (blueprint "sandbox") ---------------------------


@bp.get("/sms")
@sandbox_key_required
def sms_outbox():
    """The SMS outbox, newest first; ?phone= filters by mobile (any format the enrol call accepts),
    ?rewardLinkCode= by the link a code was sent for, ?merchantCustomerReferenceId= by that link's customer."""
    phone = request.args.get("phone", "")
    if phone:
        try:
            phone = links.normalize_phone(phone)
        except links.InvalidPhoneNumber as error:
            raise RequestInvalid(str(error)) from None
    messages = inspection.sms_messages(
        phone or None,
        _limit(),
        link_code=_filter_text("rewardLinkCode"),
        customer_reference=_filter_text("merchantCustomerReferenceId"),
    )
    return jsonify([_sms_json(message) for message in messages])


def _filter_text(name: str) -> str | None:
    """A text filter of the query string: at most 64 printable ASCII characters, or None when absent."""
    value = request.args.get(name, "")
    if not value:
        return None
    if len(value) > 64 or not value.isascii() or not value.isprintable():
        raise RequestInvalid(f"{name} must be at most 64 printable ASCII characters.")
    return value


def _sms_json(message: inspection.OutboxMessage) -> dict:
    return {
        "id": message.id,
        "phone": message.phone,
        "body": message.body,
        "sentAt": clock.iso(message.sent_at),
        # A convenience for testers: the digits as they appear in the text.
        "otp": otp_in_sms(message.body),
        # Which enrolment the code belongs to: tests sharing a card pick their own code by these.
        "rewardLinkCode": message.reward_link_code,
        "merchantCustomerReferenceId": message.customer_reference,
    }


def _clock_json() -> dict:
    return {"now": clock.iso(clock.now()), "offsetSeconds": clock.offset_seconds()}


@bp.get("/clock")
@sandbox_key_required
def get_clock():
    """The sandbox's current time and how far it runs ahead of real time."""
    return jsonify(_clock_json())


@bp.post("/clock/advance")
@sandbox_key_required
def advance_clock():
    """Move the sandbox clock forward by {"seconds": N}."""
    clock.advance(parse_body(ClockAdvance).seconds)
    return jsonify(_clock_json())


@bp.post("/reset")
@sandbox_key_required
def reset():
    """Throw away everything and restore the seed state."""
    seed.reset_database()
    return jsonify({"status": "reset"})


@bp.get("/requests")
@sandbox_key_required
def request_log():
    """The request log, newest first; ?status=&path=&limit= filter it (path matches a part of the path)."""
    request_log_writer(current_app).flush()  # this worker's own calls first (others' follow within a flush)
    statuses = None
    status = request.args.get("status", "")
    if status:
        if not status.isascii() or not status.isdigit() or len(status) != 3:
            raise RequestInvalid("status must be an HTTP status code such as 422.")
        statuses = (int(status), int(status))
    path = request.args.get("path", "")
    if len(path) > 300:
        raise RequestInvalid("path must be at most 300 characters.")
    entries = inspection.request_log_entries(limit=_limit(), statuses=statuses, path_part=path)
    return jsonify([_log_json(entry) for entry in entries])


def _log_json(entry: RequestLogEntry) -> dict:
    return {
        "id": entry.id,
        "at": clock.iso(entry.at),
        "clientId": entry.client_id,
        "method": entry.method,
        "path": entry.path,
        "endpoint": entry.endpoint,
        "status": entry.status,
        "latencyMs": entry.latency_ms,
        "uuid": entry.request_uuid,
        "idempotencyKey": entry.idempotency_key,
        "replayed": entry.replayed,
        "fault": entry.fault,
        "requestBody": entry.request_body,
        "responseBody": entry.response_body,
    }


# --- Cards, points, cardholders, faults and links (blueprint "sandbox_controls") -------------------


# --- Representations ------------------------------------------------------------------------------


def card_json(card: Card, balance: int | None) -> dict[str, Any]:
    return {
        "last4": card.last4,
        "maskedNumber": card.masked_number,
        "brand": card.brand,
        "kind": card.kind,
        "holder": card.cardholder.name,
        "mobile": card.cardholder.phone,
        "programme": card.programme.code if card.programme else None,
        "programmeName": card.programme.name if card.programme else None,
        "status": card.status,
        "pointsBalance": balance if card.programme else None,
        "currencyCode": "HKD",
        "creditLimit": cents_to_amount(card.credit_limit_cents),
        "outstanding": cents_to_amount(card.outstanding_cents),
        "creditAvailable": cents_to_amount(card.credit_available_cents),
        "smsDeliverable": card.sms_deliverable,
        "behaviour": card.behaviour,
    }


def _ledger_json(line: controls.LedgerLine) -> dict[str, Any]:
    return {
        "entryId": line.entry_id,
        "transactionId": line.transaction_id,
        "createdAt": clock.iso(line.created_at),
        "kind": line.kind,
        "description": line.description,
        "reference": line.reference,
        "points": line.amount,
        "balanceAfter": line.balance_after,
    }


def _statement_json(line: CardStatementLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "kind": line.kind,
        "amount": cents_to_amount(line.amount_cents),
        "currencyCode": line.currency_code,
        "description": line.description,
        "merchantName": line.merchant_name,
        "reference": line.reference,
        "transactionDate": clock.iso(line.transaction_date),
        "postingDate": line.posting_date.isoformat(),
    }


def fault_json(rule: FaultRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "endpoint": rule.endpoint,
        "latencyMs": rule.latency_ms,
        "errorStatus": rule.error_status,
        "errorCode": rule.error_code,
        "remainingFailures": rule.remaining_failures,
        "dropResponseAfterCommit": rule.drop_response_after_commit,
        "description": controls.describe_fault(rule),
        "createdAt": clock.iso(rule.created_at),
    }


def link_json(link: RewardLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "rewardLinkCode": link.code,
        "merchant": link.partner_client.client_id,
        "merchantName": link.partner_client.merchant_name,
        "merchantCustomerReferenceId": link.merchant_customer_reference,
        "cardLast4": link.card.last4,
        "holder": link.card.cardholder.name,
        "status": link.status,
        "failedAttempts": link.failed_attempts,
        "resendsUsed": link.resends_used,
        "createdAt": clock.iso(link.created_at),
        "activatedAt": clock.iso(link.activated_at),
        "unlinkedAt": clock.iso(link.unlinked_at),
    }


# --- Cards ----------------------------------------------------------------------------------------


@controls_bp.get("/cards")
@sandbox_key_required
def list_cards():
    balances = controls.points_balances()
    return jsonify({"cards": [card_json(card, balances.get(card.id, 0)) for card in controls.all_cards()]})


@controls_bp.get("/cards/<last4>")
@sandbox_key_required
def get_card(last4: str):
    card = controls.find_card(last4)
    body = card_json(card, ledger.balance_of(card))
    body["ledger"] = [_ledger_json(line) for line in controls.card_ledger(card)]
    body["statement"] = [_statement_json(line) for line in controls.card_statement(card)]
    return jsonify(body)


@controls_bp.post("/cards/<last4>/freeze")
@sandbox_key_required
def freeze_card(last4: str):
    card = controls.freeze_card(controls.find_card(last4))
    return jsonify(card_json(card, ledger.balance_of(card)))


@controls_bp.post("/cards/<last4>/unfreeze")
@sandbox_key_required
def unfreeze_card(last4: str):
    card = controls.unfreeze_card(controls.find_card(last4))
    return jsonify(card_json(card, ledger.balance_of(card)))


@controls_bp.post("/cards/<last4>/points")
@sandbox_key_required
def adjust_points(last4: str):
    """{"delta": -5000, "reason": "..."}: one ADJUST ledger transaction."""
    card = controls.find_card(last4)
    adjustment = parse_body(PointsAdjustment)
    delta = adjustment.delta
    transaction = controls.adjust_points(card, delta, adjustment.reason, clock.now())
    return jsonify(
        {
            "card": card_json(card, ledger.balance_of(card)),
            "transaction": {
                "id": transaction.id,
                "kind": transaction.kind,
                "description": transaction.description,
                "points": delta,
                "createdAt": clock.iso(transaction.created_at),
            },
        }
    )


@controls_bp.post("/cardholders")
@sandbox_key_required
def create_cardholder():
    """{"name", "mobile", "programme": "REWARDS"|"PREMIER"|null, "points", "creditLimit": "50000.00"} -> 201."""
    body = parse_body(TestCardholderRequest)
    credit_limit_cents = amount_to_cents(parse_amount(body.credit_limit, "creditLimit"))
    wanted = controls.NewCardholder(body.name, body.mobile, body.programme, body.points or 0, credit_limit_cents)
    card = controls.create_test_cardholder(wanted, clock.now())
    response = card_json(card, ledger.balance_of(card))
    # The one answer with a full card number, and only in demo mode: the tester who made the card needs it to
    # pay with it, once. Every other answer masks it (seeded test numbers are in the README and the console).
    if current_app.config["ENV"] == "demo":
        response["number"] = card.number
    response["expiry"] = "any future month"
    response["cvc"] = "any 3 digits"
    return jsonify(response), 201


# --- Faults ---------------------------------------------------------------------------------------


def _endpoints() -> list[controls.FaultEndpoint]:
    return controls.faultable_endpoints(current_app.url_map.iter_rules())


@controls_bp.get("/faults")
@sandbox_key_required
def list_faults():
    return jsonify(
        {
            "faults": [fault_json(rule) for rule in controls.list_faults()],
            "endpoints": [{"name": e.name, "methods": e.methods, "path": e.path} for e in _endpoints()],
        }
    )


@controls_bp.post("/faults")
@sandbox_key_required
def create_fault():
    """{"endpoint", "latencyMs", "errorStatus", "errorCode", "failTimes", "dropResponseAfterCommit"} -> 201."""
    body = parse_body(FaultRequest)
    spec = controls.FaultSpec(
        endpoint=body.endpoint,
        latency_ms=body.latency_ms or 0,
        error_status=body.error_status,
        error_code=body.error_code or None,
        fail_times=body.fail_times,
        drop_response_after_commit=body.drop_response_after_commit,
    )
    rule = controls.create_fault(spec, [endpoint.name for endpoint in _endpoints()], clock.now())
    return jsonify(fault_json(rule)), 201


@controls_bp.get("/faults/<int:fault_id>")
@sandbox_key_required
def get_fault(fault_id: int):
    return jsonify(fault_json(controls.find_fault(fault_id)))


@controls_bp.delete("/faults/<int:fault_id>")
@sandbox_key_required
def delete_fault(fault_id: int):
    controls.find_fault(fault_id)
    controls.delete_fault(fault_id)
    return "", 204


# --- Ledger health and links ----------------------------------------------------------------------


@controls_bp.get("/ledger/health")
@sandbox_key_required
def ledger_health():
    health = controls.ledger_health()
    return jsonify(
        {
            "issued": health.issued,
            "redeemed": health.redeemed,
            "reversed": health.reversed,
            "liability": health.liability,
            "ledgerCheck": {"ok": health.ok, "problems": health.problems},
        }
    )


@controls_bp.get("/links")
@sandbox_key_required
def list_links():
    status = request.args.get("status") or None
    if status is not None and status not in LINK_STATUSES:
        raise RequestInvalid(f"status must be one of: {', '.join(LINK_STATUSES)}.")
    return jsonify({"links": [link_json(link) for link in controls.list_links(status)]})


@controls_bp.delete("/links/<int:link_id>")
@sandbox_key_required
def unlink(link_id: int):
    """End a link as the merchant's unlink would (the shopper must verify again)."""
    link = controls.unlink(link_id, clock.now())
    return jsonify(link_json(link))
