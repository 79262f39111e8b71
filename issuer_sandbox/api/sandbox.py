"""The sandbox's JSON controls for testers under /sandbox/api, guarded by the X-Sandbox-Key header.

The JSON twin of the console: the SMS outbox, the clock, reset and the request log (blueprint ``sandbox``), and
cards, points, test cardholders, faults, ledger health and links (blueprint ``sandbox_controls``). Two
blueprints because fault rules, the request log and testers' scripts know the endpoints by these names.
Handlers parse, call a rules function and answer through a model of ``sandbox_schemas`` (no dict built here):
changes commit inside ``controls``, ``clock`` and ``seed``, reads go through ``inspection``; nothing here
touches the database session.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, TypeAdapter

from .. import clock, controls, inspection, ledger, links, seed
from ..errors import RuleError
from ..money import amount_to_cents, parse_amount
from ..request_log import writer as request_log_writer
from ..sandbox_schemas import (
    LINK_STATUSES,
    CardDetail,
    CardList,
    Clock,
    ClockAdvance,
    Fault,
    FaultList,
    FaultRequest,
    LedgerHealth,
    Link,
    LinkList,
    NewTestCard,
    PointsAdjusted,
    PointsAdjustment,
    RequestLog,
    RequestLogLine,
    ResetDone,
    SandboxCard,
    SmsMessage,
    SmsOutbox,
    TestCardholderRequest,
)
from .errors import RequestInvalid
from .sandbox_openapi import sandbox_openapi_document
from .validation import parse_body

F = TypeVar("F", bound=Callable)

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox/api")
controls_bp = Blueprint("sandbox_controls", __name__, url_prefix="/sandbox/api")
blueprints = (bp, controls_bp)

MAX_LIMIT = 500


def answer(body: BaseModel, status: int = 200, **dump_options: object) -> Response:
    """An answer serialised by its model (``sandbox_schemas``): the one way a view writes JSON."""
    response = jsonify(body.model_dump(mode="json", **dump_options))
    response.status_code = status
    return response


def answer_list(adapter: TypeAdapter, items: list) -> Response:
    """A bare JSON array of answers (the SMS outbox, the request log), serialised by its list adapter."""
    return jsonify(adapter.dump_python(items, mode="json"))


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
    return answer_list(SmsOutbox, [SmsMessage.of(message) for message in messages])


def _filter_text(name: str) -> str | None:
    """A text filter of the query string: at most 64 printable ASCII characters, or None when absent."""
    value = request.args.get(name, "")
    if not value:
        return None
    if len(value) > 64 or not value.isascii() or not value.isprintable():
        raise RequestInvalid(f"{name} must be at most 64 printable ASCII characters.")
    return value


@bp.get("/clock")
@sandbox_key_required
def get_clock():
    """The sandbox's current time and how far it runs ahead of real time."""
    return answer(Clock.current())


@bp.post("/clock/advance")
@sandbox_key_required
def advance_clock():
    """Move the sandbox clock forward by {"seconds": N}."""
    clock.advance(parse_body(ClockAdvance).seconds)
    return answer(Clock.current())


@bp.post("/reset")
@sandbox_key_required
def reset():
    """Throw away everything and restore the seed state."""
    seed.reset_database()
    return answer(ResetDone(status="reset"))


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
    return answer_list(RequestLog, [RequestLogLine.of(entry) for entry in entries])


# --- Cards, points, cardholders, faults and links (blueprint "sandbox_controls") -------------------


@controls_bp.get("/cards")
@sandbox_key_required
def list_cards():
    balances = controls.points_balances()
    cards = [SandboxCard.of(card, balances.get(card.id, 0)) for card in controls.all_cards()]
    return answer(CardList(cards=cards))


@controls_bp.get("/cards/<last4>")
@sandbox_key_required
def get_card(last4: str):
    card = controls.find_card(last4)
    history = controls.card_ledger(card), controls.card_statement(card)
    return answer(CardDetail.with_history(card, ledger.balance_of(card), *history))


@controls_bp.post("/cards/<last4>/freeze")
@sandbox_key_required
def freeze_card(last4: str):
    card = controls.freeze_card(controls.find_card(last4))
    return answer(SandboxCard.of(card, ledger.balance_of(card)))


@controls_bp.post("/cards/<last4>/unfreeze")
@sandbox_key_required
def unfreeze_card(last4: str):
    card = controls.unfreeze_card(controls.find_card(last4))
    return answer(SandboxCard.of(card, ledger.balance_of(card)))


@controls_bp.post("/cards/<last4>/points")
@sandbox_key_required
def adjust_points(last4: str):
    """{"delta": -5000, "reason": "..."}: one ADJUST ledger transaction."""
    card = controls.find_card(last4)
    adjustment = parse_body(PointsAdjustment)
    transaction = controls.adjust_points(card, adjustment.delta, adjustment.reason, clock.now())
    return answer(PointsAdjusted.of(card, ledger.balance_of(card), transaction, adjustment.delta))


@controls_bp.post("/cardholders")
@sandbox_key_required
def create_cardholder():
    """{"name", "mobile", "programme": "REWARDS"|"PREMIER"|null, "points", "creditLimit": "50000.00"} -> 201."""
    body = parse_body(TestCardholderRequest)
    credit_limit_cents = amount_to_cents(parse_amount(body.credit_limit, "creditLimit"))
    wanted = controls.NewCardholder(body.name, body.mobile, body.programme, body.points or 0, credit_limit_cents)
    card = controls.create_test_cardholder(wanted, clock.now())
    # The one answer with a full card number, and only in demo mode: the tester who made the card needs it to
    # pay with it, once. Every other answer masks it (seeded test numbers are in the README and the console).
    demo = current_app.config["ENV"] == "demo"
    new_card = NewTestCard(**SandboxCard.fields_of(card, ledger.balance_of(card)), number=card.number if demo else None)
    return answer(new_card, 201, exclude=None if demo else {"number"})


# --- Faults ---------------------------------------------------------------------------------------


def _endpoints() -> list[controls.FaultEndpoint]:
    return controls.faultable_endpoints(current_app.url_map.iter_rules())


@controls_bp.get("/faults")
@sandbox_key_required
def list_faults():
    return answer(FaultList.of(controls.list_faults(), _endpoints()))


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
    return answer(Fault.of(rule), 201)


@controls_bp.get("/faults/<int:fault_id>")
@sandbox_key_required
def get_fault(fault_id: int):
    return answer(Fault.of(controls.find_fault(fault_id)))


@controls_bp.delete("/faults/<int:fault_id>")
@sandbox_key_required
def delete_fault(fault_id: int):
    controls.find_fault(fault_id)
    controls.delete_fault(fault_id)
    return "", 204


# --- This API's own document ----------------------------------------------------------------------


@controls_bp.get("/openapi.json")
def openapi_json():
    """The sandbox API's OpenAPI document; no key (the console links it), but gone with the controls off."""
    return jsonify(sandbox_openapi_document(current_app.config.get("BANK_NAME", "Summit Bank")))


# --- Ledger health and links ----------------------------------------------------------------------


@controls_bp.get("/ledger/health")
@sandbox_key_required
def ledger_health():
    return answer(LedgerHealth.of(controls.ledger_health()))


@controls_bp.get("/links")
@sandbox_key_required
def list_links():
    status = request.args.get("status") or None
    if status is not None and status not in LINK_STATUSES:
        raise RequestInvalid(f"status must be one of: {', '.join(LINK_STATUSES)}.")
    return answer(LinkList(links=[Link.of(link) for link in controls.list_links(status)]))


@controls_bp.delete("/links/<int:link_id>")
@sandbox_key_required
def unlink(link_id: int):
    """End a link as the merchant's unlink would (the shopper must verify again)."""
    return answer(Link.of(controls.unlink(link_id, clock.now())))
