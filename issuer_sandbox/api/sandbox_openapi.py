"""GET /sandbox/api/openapi.json: the OpenAPI 3.1 document of the sandbox API (testers' controls).

Not part of the partner document (partners never call it). Its ``components.schemas`` are generated from the
models of ``sandbox_schemas``; operations, descriptions and examples are written here; each operation's error
responses come from ``SANDBOX_ERRORS``, the table the OpenAPI tests compare with the app's error classes
(``sandbox_only`` rule errors) and its routes.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic.alias_generators import to_camel

from .. import sandbox_schemas as models
from ..schemas import Error
from .errors import HTTP_ERRORS, INTERNAL_ERROR, RequestInvalid
from .openapi import error_responses, json_content, schema_ref

PREFIX = "/sandbox/api"
DOCUMENT_ENDPOINT = "sandbox_controls.openapi_json"

# --- The error table: what each endpoint can answer, besides the errors of every call -------------

BAD_REQUEST = (RequestInvalid.status, RequestInvalid.code, "A query parameter or a body field is missing or malformed.")
KEY_ERROR = (401, "invalidSandboxKey", "The X-Sandbox-Key header is missing or wrong.")
CARD_NOT_FOUND = (404, "cardNotFound", "No card ends in these four digits.")
INVALID_CONTROL = (422, "invalidControl", "The sandbox cannot do that; details say what to change.")
FAULT_NOT_FOUND = (404, "faultNotFound", "No fault rule has this id.")
SANDBOX_ERRORS: dict[str, list[tuple[int, str, str]]] = {
    "sandbox.sms_outbox": [BAD_REQUEST],
    "sandbox.get_clock": [],
    "sandbox.advance_clock": [BAD_REQUEST],
    "sandbox.reset": [],
    "sandbox.request_log": [BAD_REQUEST],
    "sandbox_controls.list_cards": [],
    "sandbox_controls.get_card": [CARD_NOT_FOUND],
    "sandbox_controls.freeze_card": [CARD_NOT_FOUND],
    "sandbox_controls.unfreeze_card": [CARD_NOT_FOUND],
    "sandbox_controls.adjust_points": [
        BAD_REQUEST,
        CARD_NOT_FOUND,
        INVALID_CONTROL,
        (422, "inSufficientPointBalance", "A removal larger than the card's balance."),
    ],
    "sandbox_controls.create_cardholder": [BAD_REQUEST, INVALID_CONTROL],
    "sandbox_controls.list_faults": [],
    "sandbox_controls.create_fault": [BAD_REQUEST, INVALID_CONTROL],
    "sandbox_controls.get_fault": [FAULT_NOT_FOUND],
    "sandbox_controls.delete_fault": [FAULT_NOT_FOUND],
    "sandbox_controls.ledger_health": [],
    "sandbox_controls.list_links": [BAD_REQUEST],
    "sandbox_controls.unlink": [
        (404, "linkNotFound", "No reward link has this id."),
        (409, "alreadyUnlinked", "The link was unlinked before."),
    ],
    DOCUMENT_ENDPOINT: [],  # the document needs no key (a browser opens it from the console)
}
# Every call: a body over the limit, a server error; any path: notFound (also every control while
# ISSUER_SANDBOX_CONTROLS is off) and methodNotAllowed. Every call but the document's: the key check.
SANDBOX_ANY_CALL_ERRORS = [
    (413, HTTP_ERRORS[413][0], "The body is larger than the limit (64 KiB)."),
    (INTERNAL_ERROR[0], INTERNAL_ERROR[1], "The sandbox could not process the request."),
    (404, HTTP_ERRORS[404][0], "No such path, or the sandbox controls are off (ISSUER_SANDBOX_CONTROLS)."),
    (405, HTTP_ERRORS[405][0], HTTP_ERRORS[405][1]),
]


def errors_of(endpoint: str) -> list[tuple[int, str, str]]:
    """Every (status, code, details) the endpoint can answer."""
    keyed = [] if endpoint == DOCUMENT_ENDPOINT else [KEY_ERROR]
    return [*keyed, *SANDBOX_ERRORS[endpoint], *SANDBOX_ANY_CALL_ERRORS]


def sandbox_error_codes() -> set[tuple[int, str]]:
    """Every (status, code) this table says the sandbox API can answer."""
    return {(status, code) for endpoint in SANDBOX_ERRORS for status, code, _ in errors_of(endpoint)}


# --- Examples -------------------------------------------------------------------------------------

CARD_EXAMPLE: dict[str, Any] = {
    "last4": "8741",
    "maskedNumber": "•••• •••• •••• 8741",
    "brand": "VISA",
    "kind": "credit",
    "holder": "CHAN TAI MAN",
    "mobile": "91234567",
    "programme": "REWARDS",
    "programmeName": "Summit Rewards",
    "status": "ACTIVE",
    "pointsBalance": 120000,
    "currencyCode": "HKD",
    "creditLimit": "50000.00",
    "outstanding": "520.00",
    "creditAvailable": "49480.00",
    "smsDeliverable": True,
    "behaviour": "happy path",
}
DEBIT_CARD_EXAMPLE = {
    **CARD_EXAMPLE,
    "last4": "4300",
    "maskedNumber": "•••• •••• •••• 4300",
    "kind": "debit",
    "holder": "CHEUNG WING",
    "mobile": "94567890",
    "programme": None,
    "programmeName": None,
    "pointsBalance": None,
    "behaviour": "Summit debit card: pays, no points offer",
}
LEDGER_EXAMPLE = {
    "entryId": 12,
    "transactionId": 7,
    "createdAt": "2026-11-26T08:10:00Z",
    "kind": "REDEEM",
    "description": "Pay with Points: Harbour Mall order HM-000123",
    "reference": "RDM-7F3A9C2E51B04D86",
    "points": -50000,
    "balanceAfter": 70000,
}
STATEMENT_EXAMPLE = {
    "id": 3,
    "kind": "POINTS_CREDIT",
    "amount": "-200.00",
    "currencyCode": "HKD",
    "description": "Pay with Points credit: Harbour Mall order HM-000123",
    "merchantName": "Harbour Mall",
    "reference": "RDM-7F3A9C2E51B04D86",
    "transactionDate": "2026-11-26T08:10:00Z",
    "postingDate": "2026-11-26",
}
SMS_EXAMPLE = {
    "id": 1,
    "phone": "91234567",
    "body": "Summit Bank: 482913 is your one-time password to link your card with Harbour Mall.",
    "sentAt": "2026-11-26T08:00:00Z",
    "otp": "482913",
    "rewardLinkCode": "lnk_5rT0m8QxWc2Zb7Yk",
    "merchantCustomerReferenceId": "cust-1001",
}
CLOCK_EXAMPLE = {"now": "2026-11-26T09:00:00Z", "offsetSeconds": 3600}
LOG_EXAMPLE = {
    "id": 42,
    "at": "2026-11-26T08:10:00Z",
    "clientId": "harbour-mall",
    "method": "POST",
    "path": "/gcb/api/v1/apac/rewards/lnk_5rT0m8QxWc2Zb7Yk/redemption",
    "endpoint": "redemptions.redeem",
    "status": 200,
    "latencyMs": 18,
    "uuid": "3f2b8a4e-9c1d-4e7a-b5f0-2d6c8e1a9b37",
    "idempotencyKey": "HM-000123",
    "replayed": False,
    "fault": "",
    "requestBody": '{"transactionReferenceNumber": "HM-000123"}',
    "responseBody": '{"orderId": "RDM-7F3A9C2E51B04D86", "status": "COMPLETED"}',
    "answerLogged": True,
}
FAULT_EXAMPLE = {
    "id": 1,
    "endpoint": "redemptions.redeem",
    "latencyMs": 0,
    "errorStatus": 503,
    "errorCode": "serviceUnavailable",
    "remainingFailures": 1,
    "dropResponseAfterCommit": False,
    "description": "HTTP 503 serviceUnavailable; next 1 call",
    "createdAt": "2026-11-26T08:00:00Z",
}
LINK_EXAMPLE = {
    "id": 5,
    "rewardLinkCode": "lnk_5rT0m8QxWc2Zb7Yk",
    "merchant": "harbour-mall",
    "merchantName": "Harbour Mall",
    "merchantCustomerReferenceId": "cust-1001",
    "cardLast4": "8741",
    "holder": "CHAN TAI MAN",
    "status": "ACTIVE",
    "failedAttempts": 0,
    "resendsUsed": 0,
    "createdAt": "2026-11-26T08:00:00Z",
    "activatedAt": "2026-11-26T08:01:00Z",
    "unlinkedAt": None,
}
FAULT_REQUEST_EXAMPLE = {
    "endpoint": "redemptions.redeem",
    "errorStatus": 503,
    "errorCode": "serviceUnavailable",
    "failTimes": 1,
}
NEW_CARDHOLDER_EXAMPLE = {"name": "TAM WAI KEI", "mobile": "9876 5432", "programme": "PREMIER", "points": 5000}
NEW_CARD_EXAMPLE = {
    **CARD_EXAMPLE,
    "last4": "3214",
    "maskedNumber": "•••• •••• •••• 3214",
    "holder": "TAM WAI KEI",
    "mobile": "98765432",
    "programme": "PREMIER",
    "programmeName": "Summit Premier",
    "pointsBalance": 5000,
    "outstanding": "0.00",
    "creditAvailable": "50000.00",
    "behaviour": "test cardholder",
    "number": "4966020000003214",
    "expiry": "any future month",
    "cvc": "any 3 digits",
}


# --- Operations -----------------------------------------------------------------------------------

KEY_SECURITY = [{"sandboxKey": []}]


def _parameter(name: str, where: str, schema: dict[str, Any], description: str, example: Any = None) -> dict:
    parameter = {"name": name, "in": where, "required": where == "path", "description": description}
    parameter["schema"] = schema
    if example is not None:
        parameter["example"] = example
    return parameter


LIMIT = _parameter(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    "At most this many, newest first.",
)
LAST4 = _parameter("last4", "path", {"type": "string", "pattern": "^[0-9]{4}$"}, "The card's last four.", "8741")
FAULT_ID = _parameter("fault_id", "path", {"type": "integer", "minimum": 0}, "The fault rule's id.", 1)
LINK_ID = _parameter("link_id", "path", {"type": "integer", "minimum": 0}, "The link's id (GET /links).", 5)


def _operation(
    endpoint: str,
    summary: str,
    status: int,
    answer: tuple[str, Any] | str,
    *,
    description: str = "",
    parameters: list[dict[str, Any]] | None = None,
    body: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation. ``answer``: (schema name, example), "[]Name" for an array of Name, or a description of a
    body-less answer; ``body``: the request body's (schema name, example). Errors come from ``errors_of``."""
    blueprint, view = endpoint.split(".", 1)
    tag = "Controls" if blueprint == "sandbox_controls" else "Outbox, clock and log"
    operation: dict[str, Any] = {"operationId": to_camel(view), "tags": [tag], "summary": summary}
    operation["x-flask-endpoint"] = endpoint
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = {"required": True, **json_content(schema_ref(body[0]), {"example": body[1]})}
    if isinstance(answer, str):
        success: dict[str, Any] = {"description": answer}
    else:
        name, example = answer
        schema = {"type": "array", "items": schema_ref(name[2:])} if name.startswith("[]") else schema_ref(name)
        success = {"description": summary, **json_content(schema, {"example": example})}
    operation["responses"] = {str(status): success, **error_responses(errors_of(endpoint))}
    operation["security"] = [] if endpoint == DOCUMENT_ENDPOINT else KEY_SECURITY
    return operation


def _paths() -> dict[str, Any]:
    return {
        f"{PREFIX}/sms": {
            "get": _operation(
                "sandbox.sms_outbox",
                "The SMS outbox, newest first",
                200,
                ("[]SmsMessage", [SMS_EXAMPLE]),
                description="Filter by mobile (any format the enrol call accepts), by the link a code was sent "
                "for or by that link's customer: tests sharing a card pick their own code. `otp` holds the "
                "digits of the text (null for a message without one).",
                parameters=[
                    _parameter("phone", "query", {"type": "string"}, "A Hong Kong mobile number.", "9123 4567"),
                    _parameter("rewardLinkCode", "query", {"type": "string", "maxLength": 64}, "A link's code."),
                    _parameter(
                        "merchantCustomerReferenceId", "query", {"type": "string", "maxLength": 64}, "A customer."
                    ),
                    LIMIT,
                ],
            )
        },
        f"{PREFIX}/clock": {
            "get": _operation("sandbox.get_clock", "The sandbox's time", 200, ("Clock", CLOCK_EXAMPLE)),
        },
        f"{PREFIX}/clock/advance": {
            "post": _operation(
                "sandbox.advance_clock",
                "Move the sandbox clock forward (OTP and token expiry tests)",
                200,
                ("Clock", CLOCK_EXAMPLE),
                body=("ClockAdvance", {"seconds": 3600}),
            )
        },
        f"{PREFIX}/reset": {
            "post": _operation(
                "sandbox.reset",
                "Throw everything away and restore the seed state (the clock too)",
                200,
                ("ResetDone", {"status": "reset"}),
            )
        },
        f"{PREFIX}/requests": {
            "get": _operation(
                "sandbox.request_log",
                "The request log of partner and gateway calls, newest first",
                200,
                ("[]RequestLogLine", [LOG_EXAMPLE]),
                description="Bodies are masked (no card numbers, no OTPs). `answerLogged` false: the money "
                "call's answer never reached the log (its worker stopped first).",
                parameters=[
                    _parameter("status", "query", {"type": "string", "pattern": "^[0-9]{3}$"}, "An HTTP status."),
                    _parameter("path", "query", {"type": "string", "maxLength": 300}, "A part of the path."),
                    LIMIT,
                ],
            )
        },
        **_card_paths(),
        **_fault_paths(),
        f"{PREFIX}/ledger/health": {
            "get": _operation(
                "sandbox_controls.ledger_health",
                "Points issued, redeemed, reversed, the liability, and whether the ledger balances",
                200,
                (
                    "LedgerHealth",
                    {
                        "issued": 2_500_000,
                        "redeemed": 50000,
                        "reversed": 25000,
                        "liability": 2_475_000,
                        "ledgerCheck": {"ok": True, "problems": []},
                    },
                ),
            )
        },
        f"{PREFIX}/links": {
            "get": _operation(
                "sandbox_controls.list_links",
                "Every reward link, of every merchant",
                200,
                ("LinkList", {"links": [LINK_EXAMPLE]}),
                parameters=[
                    _parameter(
                        "status",
                        "query",
                        {"type": "string", "enum": list(models.LINK_STATUSES)},
                        "Only links in this status.",
                    )
                ],
            )
        },
        f"{PREFIX}/links/{{link_id}}": {
            "delete": _operation(
                "sandbox_controls.unlink",
                "End a link as the merchant's unlink would (the shopper must verify again)",
                200,
                ("Link", {**LINK_EXAMPLE, "status": "UNLINKED", "unlinkedAt": "2026-11-26T09:00:00Z"}),
                parameters=[LINK_ID],
            )
        },
        f"{PREFIX}/openapi.json": {
            "get": _operation(
                DOCUMENT_ENDPOINT,
                "This document",
                200,
                "The OpenAPI 3.1 document of the sandbox API (no key needed).",
            )
        },
    }


def _card_paths() -> dict[str, Any]:
    card = ("SandboxCard", CARD_EXAMPLE)
    return {
        f"{PREFIX}/cards": {
            "get": _operation(
                "sandbox_controls.list_cards",
                "Every card, numbers masked",
                200,
                ("CardList", {"cards": [CARD_EXAMPLE, DEBIT_CARD_EXAMPLE]}),
            )
        },
        f"{PREFIX}/cards/{{last4}}": {
            "get": _operation(
                "sandbox_controls.get_card",
                "A card with its points ledger and its statement",
                200,
                ("CardDetail", {**CARD_EXAMPLE, "ledger": [LEDGER_EXAMPLE], "statement": [STATEMENT_EXAMPLE]}),
                parameters=[LAST4],
            )
        },
        f"{PREFIX}/cards/{{last4}}/freeze": {
            "post": _operation(
                "sandbox_controls.freeze_card",
                "Freeze a card (payments declined, enrolment refused)",
                200,
                ("SandboxCard", {**CARD_EXAMPLE, "status": "FROZEN"}),
                parameters=[LAST4],
            )
        },
        f"{PREFIX}/cards/{{last4}}/unfreeze": {
            "post": _operation("sandbox_controls.unfreeze_card", "Unfreeze a card", 200, card, parameters=[LAST4])
        },
        f"{PREFIX}/cards/{{last4}}/points": {
            "post": _operation(
                "sandbox_controls.adjust_points",
                "Add or remove points (one ADJUST ledger transaction)",
                200,
                (
                    "PointsAdjusted",
                    {
                        "card": {**CARD_EXAMPLE, "pointsBalance": 115000},
                        "transaction": {
                            "id": 9,
                            "kind": "ADJUST",
                            "description": "Sandbox adjustment: goodwill test",
                            "points": -5000,
                            "createdAt": "2026-11-26T08:20:00Z",
                        },
                    },
                ),
                parameters=[LAST4],
                body=("PointsAdjustment", {"delta": -5000, "reason": "goodwill test"}),
            )
        },
        f"{PREFIX}/cardholders": {
            "post": _operation(
                "sandbox_controls.create_cardholder",
                "Make a test cardholder with a new card",
                201,
                ("NewTestCard", NEW_CARD_EXAMPLE),
                description="The one answer with a full card number, and only in demo mode (absent otherwise). "
                '`programme` null makes a debit card without points; `creditLimit` defaults to "50000.00".',
                body=("TestCardholderRequest", NEW_CARDHOLDER_EXAMPLE),
            )
        },
    }


def _fault_paths() -> dict[str, Any]:
    fault_id = [FAULT_ID]
    targets = [{"name": "redemptions.redeem", "methods": "POST", "path": "/gcb/api/v1/apac/rewards/..."}]
    return {
        f"{PREFIX}/faults": {
            "get": _operation(
                "sandbox_controls.list_faults",
                "The fault rules and the endpoints they can target",
                200,
                ("FaultList", {"faults": [FAULT_EXAMPLE], "endpoints": targets}),
            ),
            "post": _operation(
                "sandbox_controls.create_fault",
                "Inject a fault (latency, an error, or a dropped answer after the commit) into a partner call",
                201,
                ("Fault", FAULT_EXAMPLE),
                body=("FaultRequest", FAULT_REQUEST_EXAMPLE),
            ),
        },
        f"{PREFIX}/faults/{{fault_id}}": {
            "get": _operation(
                "sandbox_controls.get_fault", "A fault rule", 200, ("Fault", FAULT_EXAMPLE), parameters=fault_id
            ),
            "delete": _operation(
                "sandbox_controls.delete_fault", "Remove a fault rule", 204, "Removed.", parameters=fault_id
            ),
        },
    }


# --- The document ---------------------------------------------------------------------------------


@cache
def _schemas() -> dict[str, Any]:
    """Components generated from the models: answers as serialised, requests as validated."""
    generated: dict[str, Any] = {}
    for model, mode in [(m, "serialization") for m in models.ANSWER_MODELS] + [
        (m, "validation") for m in (*models.REQUEST_MODELS, Error)
    ]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        generated.update(schema.pop("$defs", {}))
        generated[model.__name__] = schema
    return generated


def sandbox_openapi_document(bank_name: str = "Summit Bank") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of /sandbox/api as a dict (JSON-serialisable)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{bank_name} sandbox API (testers' controls)",
            "version": "1.0.0",
            "description": (
                "The JSON twin of the sandbox console: the SMS outbox, the clock, reset, the request log, cards, "
                "points, test cardholders, fault rules, ledger health and links. Every call but this document's "
                "needs the `X-Sandbox-Key` header. With `ISSUER_SANDBOX_CONTROLS=off` (the production default) "
                "the controls answer `notFound`; the SMS outbox and the request log, which only read, stay. "
                "Errors are JSON `{type, code, details}` as in the partner API. Money is a decimal string "
                "(HKD), points are integers, times ISO 8601 in UTC."
            ),
        },
        "servers": [{"url": "/", "description": "This sandbox"}],
        "tags": [
            {"name": "Outbox, clock and log", "description": "Read what the bank sent and logged; move time."},
            {"name": "Controls", "description": "Cards, points, test cardholders, faults, ledger and links."},
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "sandboxKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Sandbox-Key",
                    "description": "The sandbox key (the ISSUER_SANDBOX_KEY setting).",
                }
            },
            "schemas": copy.deepcopy(_schemas()),
        },
    }
