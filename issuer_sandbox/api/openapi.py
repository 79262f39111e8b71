"""GET /openapi.json: the OpenAPI 3.1 document of the partner API and the card gateway.

Built as a plain dict so the console can render the same document as an API reference page. A test
compares its paths and methods with the app's routes, so a route added without documenting it fails.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from flask import Blueprint, current_app, jsonify
from pydantic import TypeAdapter

from .. import schemas
from .errors import HTTP_ERRORS, INJECTED_FAULT, error_type, oauth_error
from .paths import GATEWAY, REWARDS, TOKEN_PATH, primary

bp = Blueprint("openapi", __name__)

Schema = dict[str, Any]


@bp.get("/openapi.json")
def openapi_json():
    """The document, for tools and for people who would rather read JSON."""
    response = jsonify(openapi_document(current_app.config.get("BANK_NAME", "Summit Bank")))
    response.headers["Access-Control-Allow-Origin"] = "*"  # let a local API browser fetch it
    return response


def openapi_document(bank_name: str = "Summit Bank") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document as a dict (JSON-serialisable)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{bank_name} sandbox: Pay with Points partner API and card gateway",
            "version": "1.0.0",
            "description": (
                "The partner API keeps the paths and field names of the public Citi Pay with Points API "
                "(Hong Kong, v1 APAC rewards); reversals, status look-ups, OTP resend and the card gateway are "
                "this sandbox's own. As at the real issuer, every call sits under one base path, `/gcb/api`: the "
                "token call, `/gcb/api/v1/apac/rewards/...` and `/gcb/api/gateway/v1/...`; the unprefixed "
                "`/v1/...` and `/gateway/...` paths are aliases of the same operations. Every error is JSON "
                "`{type, code, details}`, `type` as in the real issuer's tables: `invalid` when the request "
                "breaks the specification (400, 405, 413, 415), `error` when a business rule or state refused it "
                "(401, 403, 404, 409, 422, 423), `fatal` to retry later (429, 5xx). The token call's errors also "
                "carry OAuth 2.0's `error` and `error_description`. Any path may answer `notFound` (404) or "
                "`methodNotAllowed` (405, see `components.responses`); any call may meet a sandbox fault rule "
                "(`sandboxInjectedFault`, 503 unless the rule says otherwise). A partner call needs the "
                "`client_id` header: servers and proxies that drop header names with underscores (Flask's "
                "development server, gunicorn without `--header-map dangerous`, nginx by default) lose it. "
                "Partner API amounts are decimal strings; card gateway amounts are integer cents."
            ),
        },
        "servers": [{"url": "/", "description": "This sandbox"}],
        "tags": [
            {"name": "Authentication", "description": "OAuth2 client credentials."},
            {"name": "Enrolment", "description": "Link a shopper's card with a one-time password sent by SMS."},
            {"name": "Points", "description": "Balance, redemption, look-ups and reversals."},
            {"name": "Card gateway", "description": "Card payments and refunds (stands in for the acquirer)."},
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": _security_schemes(),
            "parameters": _parameters(),
            "headers": _headers(),
            "responses": _any_call_responses(),
            "schemas": _schemas(),
        },
    }


# --- Building blocks ----------------------------------------------------------------------------

PARTNER_SECURITY = [{"oauth2": ["/api"]}, {"bearerAuth": []}]
GATEWAY_SECURITY = [{"bearerAuth": []}, {"oauth2": ["/api"]}]
PARTNER_HEADERS = [{"$ref": "#/components/parameters/ClientId"}, {"$ref": "#/components/parameters/RequestUuid"}]
IDEMPOTENCY_HEADER = {"$ref": "#/components/parameters/IdempotencyKey"}
ACCEPT_LANGUAGE = {"$ref": "#/components/parameters/AcceptLanguage"}
UUID_ECHO = {"uuid": {"$ref": "#/components/headers/RequestUuid"}}
REPLAYED = {"Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}}

# The errors every partner call can answer, besides its own.
PARTNER_AUTH_ERRORS = [
    (400, "invalidRequest", "A required header (uuid) or field is missing or malformed."),
    (401, "invalidToken", "The bearer token is missing, unknown or expired."),
    (401, "invalidClient", "The client_id header is missing or does not match the token."),
    (500, "internalError", "The bank could not process the request; retry later."),
]
GATEWAY_AUTH_ERRORS = [
    (400, "invalidRequest", "A field or the Idempotency-Key header is missing or malformed."),
    (401, "invalidToken", "The bearer token is missing, unknown or expired."),
    (500, "internalError", "The bank could not process the request; retry later."),
]
BODY_ERRORS = [(413, "requestTooLarge", "The body is larger than the limit (64 KiB).")]
# Every documented call is one a sandbox fault rule may answer instead of the bank.
FAULT_ERRORS = [
    (
        *INJECTED_FAULT,
        "A fault rule set in the sandbox answered instead of the bank (the rule may choose another status "
        "and code); nothing was processed.",
    )
]


def schema_ref(name: str) -> Schema:
    """A $ref to a schema of components.schemas (also used by the sandbox API's document)."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: Schema, examples: dict[str, Any] | None = None) -> dict[str, Any]:
    """An application/json content entry with its schema and named examples."""
    content: dict[str, Any] = {"schema": schema}
    if examples:
        content["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {"content": {"application/json": content}}


def _body(schema_name: str, examples: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, **json_content(schema_ref(schema_name), examples)}


def _ok(description: str, schema_name: str | None, example: Any = None, headers: dict | None = None) -> dict:
    response: dict[str, Any] = {"description": description}
    if schema_name:
        response.update(json_content(schema_ref(schema_name), {"example": example} if example is not None else None))
    if headers:
        response["headers"] = headers
    return response


def error_responses(errors: list[tuple[int, str, str]], oauth: bool = False) -> dict[str, Any]:
    """One response per status, its `code` limited to the documented codes, one example per code.

    ``oauth``: the token call's errors, which add OAuth 2.0's ``error`` and ``error_description``.
    """
    by_status: dict[int, list[tuple[str, str]]] = {}
    for status, code, details in errors:
        if code not in (c for c, _ in by_status.get(status, [])):
            by_status.setdefault(status, []).append((code, details))
    responses = {}
    for status in sorted(by_status):
        codes = by_status[status]
        schema = {
            "allOf": [
                schema_ref("OAuthError" if oauth else "Error"),
                {"type": "object", "properties": {"code": {"enum": [code for code, _ in codes]}}},
            ]
        }
        examples = {code: _error_example(status, code, details, oauth) for code, details in codes}
        responses[str(status)] = {
            "description": "; ".join(f"`{code}`: {details}" for code, details in codes),
            **json_content(schema, examples),
        }
        if status == 429:
            responses[str(status)]["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return responses


def _error_example(status: int, code: str, details: str, oauth: bool) -> dict[str, Any]:
    example = {"type": error_type(status), "code": code, "details": details}
    if oauth:
        example |= {"error": oauth_error(status, code), "error_description": details}
    return example


def _operation(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[str, Any],
    errors: list[tuple[int, str, str]],
    *,
    description: str = "",
    parameters: list[dict] | None = None,
    request_body: dict | None = None,
    security: list[dict] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if request_body:
        operation["requestBody"] = request_body
    operation["responses"] = {
        **responses,
        **error_responses([*errors, *FAULT_ERRORS], oauth=operation_id == "getAccessToken"),
    }
    operation["security"] = security if security is not None else PARTNER_SECURITY
    return operation


# --- Paths --------------------------------------------------------------------------------------

LINK_CODE = {"$ref": "#/components/parameters/RewardLinkCode"}
LINK_NOT_FOUND = (404, "invalidRewardLinkCode", "No such reward link for this client (another client's is not found).")
INACTIVE_LINK = (422, "inactiveRewardLinkCode", "The link is not active (pending, locked or unlinked).")

BALANCE_EXAMPLE = {
    "isRedemptionEligible": True,
    "availablePointBalance": 120000,
    "programConversionRate": "0.004",
    "currencyCode": "HKD",
    "redemptionPointIncrement": 25,
    "minimumPointsToRedeem": 1000,
    "maximumPointsToRedeem": 120000,
}
REDEMPTION_REQUEST_EXAMPLE = {
    "transactionReferenceNumber": "HM-000123",
    "redemptionOrder": {
        "transactionAmount": "520.00",
        "currencyCode": "HKD",
        "pointsToRedeem": 50000,
        "transactionDescription": "Harbour Mall order HM-000123",
    },
}
REDEMPTION_EXAMPLE = {
    "orderId": "RDM-7F3A9C2E51B04D86",
    "status": "COMPLETED",
    "pointsRedeemed": 50000,
    "redeemedAmount": "200.00",
    "availablePointBalance": 70000,
    "creditPostingDate": "2026-11-26",
}
REDEMPTION_DETAIL_EXAMPLE = {
    "orderId": "RDM-7F3A9C2E51B04D86",
    "status": "PARTIALLY_REVERSED",
    "pointsRedeemed": 50000,
    "redeemedAmount": "200.00",
    "availablePointBalance": 95000,
    "creditPostingDate": "2026-11-26",
    "transactionReferenceNumber": "HM-000123",
    "transactionAmount": "520.00",
    "pointsReversed": 25000,
    "remainingReversiblePoints": 25000,
    "createdAt": "2026-11-26T08:10:00Z",
    "reversals": [
        {
            "reversalId": "RVS-2B8E61D0C4F7A953",
            "reversalReferenceNumber": "HM-000123-R1",
            "pointsReversed": 25000,
            "amountReversed": "100.00",
            "createdAt": "2026-11-26T08:15:00Z",
        }
    ],
}
REVERSAL_REQUEST_EXAMPLE = {
    "orderId": "RDM-7F3A9C2E51B04D86",
    "reversalReferenceNumber": "HM-000123-R1",
    "pointsToReverse": 50000,
}
REVERSAL_EXAMPLE = {
    "reversalId": "RVS-2B8E61D0C4F7A953",
    "pointsReversed": 50000,
    "amountReversed": "200.00",
    "remainingReversiblePoints": 0,
    "availablePointBalance": 120000,
}
PAYMENT_REQUEST_EXAMPLE = {
    "amount": 52000,
    "currency": "HKD",
    "card": {
        "number": "4966 0100 0000 8741",
        "expiryMonth": 12,
        "expiryYear": 2030,
        "cvc": "123",
        "holderName": "CHAN TAI MAN",
    },
    "merchantReference": "HM-000123",
}
PAYMENT_EXAMPLE = {
    "paymentId": "PAY-4C1D8E0F2A7B6953E1D0",
    "status": "CAPTURED",
    "declineCode": None,
    "amount": 52000,
    "currency": "HKD",
    "merchantReference": "HM-000123",
    "card": {"last4": "8741", "brand": "VISA", "issuedBySummit": True, "pointsEligible": True},
    "createdAt": "2026-11-26T08:00:00Z",
}
DECLINED_EXAMPLE = {
    **PAYMENT_EXAMPLE,
    "paymentId": "PAY-9E2B7C4A1D0F8E6B3C5A",
    "status": "DECLINED",
    "declineCode": "cardFrozen",
    "card": {"last4": "7404", "brand": "VISA", "issuedBySummit": True, "pointsEligible": False},
}
OTHER_BANK_EXAMPLE = {
    **PAYMENT_EXAMPLE,
    "paymentId": "PAY-1A2B3C4D5E6F70819203",
    "card": {"last4": "4242", "brand": "VISA", "issuedBySummit": False, "pointsEligible": False},
}
REFUND_EXAMPLE = {
    "refundId": "RFD-5D3C2B1A0F9E8D7C6B5A",
    "status": "SUCCEEDED",
    "amount": 12000,
    "paymentId": "PAY-4C1D8E0F2A7B6953E1D0",
    "refundedAmount": 12000,
    "remainingRefundableAmount": 40000,
    "createdAt": "2026-11-26T09:00:00Z",
}
PAYMENT_DETAIL_EXAMPLE = {
    **PAYMENT_EXAMPLE,
    "status": "PARTIALLY_REFUNDED",
    "refundedAmount": 12000,
    "remainingRefundableAmount": 40000,
    "refunds": [
        {
            "refundId": "RFD-5D3C2B1A0F9E8D7C6B5A",
            "status": "SUCCEEDED",
            "amount": 12000,
            "createdAt": "2026-11-26T09:00:00Z",
        }
    ],
}


def _paths() -> dict[str, Any]:
    """Every call at its primary path under /gcb/api, then the same operations at their unprefixed aliases."""
    aliases = _alias_paths()
    paths: dict[str, Any] = {TOKEN_PATH: {"post": _token_operation()}}
    paths.update({primary(alias): item for alias, item in aliases.items()})
    paths.update({alias: _as_alias(alias, item) for alias, item in aliases.items()})
    return paths


def _as_alias(alias: str, item: dict[str, Any]) -> dict[str, Any]:
    """The same operations, said to be aliases (operation ids must be unique, so they gain a suffix)."""
    note = f"Alias of `{primary(alias)}`, kept for clients written before the `/gcb/api` base path."
    return {
        method: {
            **operation,
            "operationId": f"{operation['operationId']}Unprefixed",
            "description": f"{note} {operation.get('description', '')}".strip(),
        }
        for method, operation in item.items()
    }


def _alias_paths() -> dict[str, Any]:
    return {
        f"{REWARDS}/linkage": {"post": _enroll_operation()},
        f"{REWARDS}/{{rewardLinkCode}}/activations/otp": {"post": _resend_operation()},
        f"{REWARDS}/{{rewardLinkCode}}/activations": {"put": _activate_operation()},
        f"{REWARDS}/{{rewardLinkCode}}/pointBalance": {"get": _balance_operation()},
        f"{REWARDS}/{{rewardLinkCode}}/redemption": {"post": _redeem_operation()},
        f"{REWARDS}/redemption/{{orderId}}": {"get": _redemption_by_id_operation()},
        f"{REWARDS}/redemption": {"get": _redemption_by_reference_operation()},
        f"{REWARDS}/redemption/reversals": {"post": _reversal_operation()},
        f"{REWARDS}/{{rewardLinkCode}}": {"delete": _unlink_operation()},
        f"{GATEWAY}/payments": {"post": _create_payment_operation(), "get": _list_payments_operation()},
        f"{GATEWAY}/payments/{{paymentId}}": {"get": _get_payment_operation()},
        f"{GATEWAY}/payments/{{paymentId}}/refunds": {"post": _refund_operation()},
    }


def _token_operation() -> dict[str, Any]:
    return _operation(
        "getAccessToken",
        "Authentication",
        "Get an access token (OAuth2 client credentials)",
        {
            "200": {
                "description": "A bearer token for every other call; it expires after `expires_in` seconds.",
                **json_content(
                    schema_ref("TokenResponse"),
                    {
                        "token": {
                            "access_token": "q8Vb3kX0n2Yf7Lr1Tt9Wc4Hs6Jd5Ga0Zp",
                            "token_type": "Bearer",
                            "expires_in": 1800,
                            "scope": "/api",
                        }
                    },
                ),
            }
        },
        [
            (400, "invalidRequest", "The body is not a form or grant_type is missing."),
            (400, "unsupportedGrantType", "Only grant_type=client_credentials is supported."),
            (400, "invalidScope", "The only scope is /api."),
            (401, "invalidClient", "Unknown client_id or wrong client_secret (HTTP Basic)."),
            (
                429,
                "tooManyFailedAuthentications",
                "Too many wrong credentials from this address: wait Retry-After seconds (successful calls are "
                "never counted).",
            ),
            (500, "internalError", "The bank could not process the request; retry later."),
        ],
        description="Authenticate with HTTP Basic `client_id:client_secret`; the form carries the grant type.",
        request_body={
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": schema_ref("TokenRequest"),
                    "examples": {"token": {"value": {"grant_type": "client_credentials", "scope": "/api"}}},
                }
            },
        },
        security=[{"basicAuth": []}],
    )


def _enroll_operation() -> dict[str, Any]:
    return _operation(
        "enrollCard",
        "Enrolment",
        "Enrol a card for Pay with Points (sends an OTP by SMS)",
        {
            "200": _ok(
                "The link: PENDING_ACTIVATION with an OTP sent, or the customer's existing ACTIVE link (no OTP).",
                "EnrollResponse",
                {
                    "rewardLinkCode": "lnk_5rT0m8QxWc2Zb7Yk",
                    "linkStatus": "PENDING_ACTIVATION",
                    "maskedPhoneNumber": "****4567",
                    "otpExpiresAt": "2026-11-26T08:05:00Z",
                },
                UUID_ECHO,
            )
        },
        [
            *PARTNER_AUTH_ERRORS,
            *BODY_ERRORS,
            (404, "accountNotFound", "No points card matches the last four digits and mobile number."),
            (422, "notEligibleToRedeem", "The card is frozen or not in a points programme."),
            (
                429,
                "otpRequestLimitExceeded",
                "Too many OTP SMS to this card or mobile, or wrong codes for this card, in the last hour (any "
                "merchant, any link): wait Retry-After seconds (body adds retryAfterSeconds).",
            ),
            (503, "otpDeliveryFailed", "The SMS could not be delivered; retry later."),
        ],
        parameters=[*PARTNER_HEADERS, ACCEPT_LANGUAGE],
        request_body=_body(
            "EnrollRequest",
            {
                "happyCard": {
                    "lastFourDigitsCardNumber": "8741",
                    "citiCardHolderPhoneNumber": "91234567",
                    "merchantCustomerReferenceId": "C-1001",
                },
                "frozenCard": {
                    "lastFourDigitsCardNumber": "7404",
                    "citiCardHolderPhoneNumber": "95678901",
                    "merchantCustomerReferenceId": "C-1002",
                },
            },
        ),
    )


def _resend_operation() -> dict[str, Any]:
    return _operation(
        "resendOtp",
        "Enrolment",
        "Send a new OTP (the previous one stops working)",
        {
            "202": _ok(
                "A new OTP was sent.",
                "ResendOtpResponse",
                {"otpExpiresAt": "2026-11-26T08:06:00Z", "resendsRemaining": 2},
                UUID_ECHO,
            )
        },
        [
            *PARTNER_AUTH_ERRORS,
            LINK_NOT_FOUND,
            (409, "linkAlreadyActive", "The link is already active: no OTP is needed."),
            (423, "maxAttemptsExceeded", "The link is locked after too many wrong codes; enrol again."),
            (429, "otpResendTooSoon", "Wait 30 seconds between resends (body adds retryAfterSeconds)."),
            (429, "maxResendsExceeded", "At most 3 resends per link."),
            (
                429,
                "otpRequestLimitExceeded",
                "Too many OTP SMS to this card or mobile, or wrong codes for this card, in the last hour (any "
                "merchant, any link): wait Retry-After seconds (body adds retryAfterSeconds).",
            ),
            (503, "otpDeliveryFailed", "The SMS could not be delivered; retry later."),
        ],
        parameters=[LINK_CODE, *PARTNER_HEADERS, ACCEPT_LANGUAGE],
    )


def _activate_operation() -> dict[str, Any]:
    return _operation(
        "activateLink",
        "Enrolment",
        "Verify the OTP and activate the link",
        {"200": _ok("The link is active.", "ActivateResponse", {"linkStatus": "ACTIVE"}, UUID_ECHO)},
        [
            *PARTNER_AUTH_ERRORS,
            *BODY_ERRORS,
            LINK_NOT_FOUND,
            (409, "linkAlreadyActive", "The link is already active."),
            (422, "invalidLinkageConfirmationCode", "Wrong code (body adds attemptsRemaining)."),
            (422, "otpExpired", "The OTP is older than 5 minutes; request a new one."),
            (
                423,
                "maxAttemptsExceeded",
                "5 wrong codes on this link, or 10 on this card's links within an hour: the link is locked; enrol "
                "again.",
            ),
        ],
        parameters=[LINK_CODE, *PARTNER_HEADERS],
        request_body=_body("ActivateRequest", {"otp": {"linkageConfirmationCode": "123456"}}),
    )


def _balance_operation() -> dict[str, Any]:
    return _operation(
        "getPointBalance",
        "Points",
        "Retrieve the rewards balance and redemption rules",
        {"200": _ok("The live balance and what a point is worth.", "PointBalance", BALANCE_EXAMPLE, UUID_ECHO)},
        [*PARTNER_AUTH_ERRORS, LINK_NOT_FOUND, INACTIVE_LINK],
        parameters=[LINK_CODE, *PARTNER_HEADERS],
    )


def _redeem_operation() -> dict[str, Any]:
    return _operation(
        "submitRedemption",
        "Points",
        "Redeem points as a statement credit against a card purchase",
        {
            "200": _ok(
                "Points redeemed (or the first response replayed, with Idempotent-Replayed: true).",
                "RedemptionResponse",
                REDEMPTION_EXAMPLE,
                {**UUID_ECHO, **REPLAYED},
            )
        },
        [
            *PARTNER_AUTH_ERRORS,
            *BODY_ERRORS,
            LINK_NOT_FOUND,
            (409, "transactionAlreadyRedeemed", "The transactionReferenceNumber was used with another body."),
            (422, "inSufficientPointBalance", "Not enough points."),
            (422, "belowMinimumPointsAllowed", "Fewer points than the programme's minimum."),
            (422, "exceedsMaximumPointsAllowed", "More points than allowed in one redemption."),
            (422, "exceedsMaximumAmountAllowed", "The points are worth more than transactionAmount."),
            (422, "invalidPointsAndAmountCombination", "Points are not a multiple of the increment."),
            (422, "belowMinimumTransactionAmount", "transactionAmount is under HK$10."),
            INACTIVE_LINK,
            (422, "notEligibleToRedeem", "The card is frozen or not in a points programme."),
        ],
        description=(
            "`transactionReferenceNumber` is the idempotency key per client: the same reference with the same "
            "body returns the first response again and debits nothing more; with another body it is 409. "
            "`redeemedAmount = pointsToRedeem × programConversionRate`, exact to the cent."
        ),
        parameters=[LINK_CODE, *PARTNER_HEADERS],
        request_body=_body("RedemptionRequest", {"happyCard": REDEMPTION_REQUEST_EXAMPLE}),
    )


def _redemption_by_id_operation() -> dict[str, Any]:
    return _operation(
        "getRedemption",
        "Points",
        "Look up a redemption by order id (with its reversals)",
        {"200": _ok("The redemption now.", "Redemption", REDEMPTION_DETAIL_EXAMPLE, UUID_ECHO)},
        [*PARTNER_AUTH_ERRORS, (404, "redemptionNotFound", "No such redemption for this client.")],
        parameters=[{"$ref": "#/components/parameters/OrderId"}, *PARTNER_HEADERS],
    )


def _redemption_by_reference_operation() -> dict[str, Any]:
    return _operation(
        "findRedemptionByReference",
        "Points",
        "Look up a redemption by transactionReferenceNumber (how the shop learns the outcome after a timeout)",
        {"200": _ok("The redemption now.", "Redemption", REDEMPTION_DETAIL_EXAMPLE, UUID_ECHO)},
        [*PARTNER_AUTH_ERRORS, (404, "redemptionNotFound", "No redemption with that reference for this client.")],
        parameters=[
            {
                "name": "transactionReferenceNumber",
                "in": "query",
                "required": True,
                "schema": schema_ref("Reference"),
                "example": "HM-000123",
            },
            *PARTNER_HEADERS,
        ],
    )


def _reversal_operation() -> dict[str, Any]:
    return _operation(
        "reverseRedemption",
        "Points",
        "Reverse part or all of a redemption (points back, statement credit reversed)",
        {
            "200": _ok(
                "Points reversed (or the first response replayed, with Idempotent-Replayed: true).",
                "ReversalResponse",
                REVERSAL_EXAMPLE,
                {**UUID_ECHO, **REPLAYED},
            )
        },
        [
            *PARTNER_AUTH_ERRORS,
            *BODY_ERRORS,
            (404, "redemptionNotFound", "No such redemption for this client."),
            (409, "reversalAlreadyProcessed", "The reversalReferenceNumber was used with another body."),
            (422, "exceedsReversiblePoints", "More points than are left to reverse."),
            (
                422,
                "invalidPointsAndAmountCombination",
                "A partial reversal must be a multiple of the programme's increment (or all that is left).",
            ),
        ],
        description=(
            "Idempotent by `reversalReferenceNumber`; partial reversals until nothing is left. A partial "
            "reversal takes back exactly its share of the credit, so it must be a multiple of the programme's "
            "`redemptionPointIncrement` (else 422 `invalidPointsAndAmountCombination`); the last reversal "
            "may take whatever is left."
        ),
        parameters=PARTNER_HEADERS,
        request_body=_body("ReversalRequest", {"full": REVERSAL_REQUEST_EXAMPLE}),
    )


def _unlink_operation() -> dict[str, Any]:
    return _operation(
        "unlinkCard",
        "Enrolment",
        "Unlink the card (the code is unknown afterwards)",
        {"204": {"description": "Unlinked.", "headers": UUID_ECHO}},
        [*PARTNER_AUTH_ERRORS, LINK_NOT_FOUND],
        parameters=[LINK_CODE, *PARTNER_HEADERS],
    )


PAYMENT_NOT_FOUND = (404, "paymentNotFound", "No such payment for this client (another client's is not found).")
KEY_REUSED = (409, "idempotencyKeyReused", "The Idempotency-Key was used with another body.")


def _create_payment_operation() -> dict[str, Any]:
    return _operation(
        "createPayment",
        "Card gateway",
        "Charge a card (authorise and capture)",
        {
            "201": {
                "description": (
                    "The outcome: CAPTURED, or DECLINED with a declineCode (a decline is not an error). A repeated "
                    "Idempotency-Key with the same body returns the first response with Idempotent-Replayed: true."
                ),
                "headers": {**REPLAYED, "Location": {"schema": {"type": "string"}}},
                **json_content(
                    schema_ref("Payment"),
                    {"captured": PAYMENT_EXAMPLE, "declined": DECLINED_EXAMPLE, "otherBank": OTHER_BANK_EXAMPLE},
                ),
            }
        },
        [*GATEWAY_AUTH_ERRORS, *BODY_ERRORS, KEY_REUSED],
        description=(
            "Amounts in integer cents. Declines: `invalidCardNumber` (Luhn, or a Summit number never issued), "
            "`expiredCard`, `incorrectCvc`, `cardFrozen`, `insufficientCredit`. Other banks' cards are approved "
            "and not points-eligible. Only the last four digits and brand are stored."
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request_body=_body(
            "PaymentRequest",
            {
                "happyCard": PAYMENT_REQUEST_EXAMPLE,
                "otherBank": {
                    **PAYMENT_REQUEST_EXAMPLE,
                    "card": {**PAYMENT_REQUEST_EXAMPLE["card"], "number": "4242 4242 4242 4242"},
                },
            },
        ),
        security=GATEWAY_SECURITY,
    )


def _list_payments_operation() -> dict[str, Any]:
    return _operation(
        "listPayments",
        "Card gateway",
        "Find payments by merchant reference (how the shop learns the outcome after a timeout)",
        {
            "200": _ok(
                "The payments with that reference, oldest first.", "PaymentList", {"payments": [PAYMENT_DETAIL_EXAMPLE]}
            )
        },
        GATEWAY_AUTH_ERRORS,
        parameters=[
            {
                "name": "merchantReference",
                "in": "query",
                "required": True,
                "schema": schema_ref("Reference"),
                "example": "HM-000123",
            }
        ],
        security=GATEWAY_SECURITY,
    )


def _get_payment_operation() -> dict[str, Any]:
    return _operation(
        "getPayment",
        "Card gateway",
        "Look up a payment with its refunds",
        {"200": _ok("The payment now.", "PaymentDetail", PAYMENT_DETAIL_EXAMPLE)},
        [*GATEWAY_AUTH_ERRORS, PAYMENT_NOT_FOUND],
        parameters=[{"$ref": "#/components/parameters/PaymentId"}],
        security=GATEWAY_SECURITY,
    )


def _refund_operation() -> dict[str, Any]:
    return _operation(
        "refundPayment",
        "Card gateway",
        "Refund part or all of a captured payment",
        {
            "201": _ok(
                "Refunded (or the first response replayed, with Idempotent-Replayed: true).",
                "RefundResponse",
                REFUND_EXAMPLE,
                REPLAYED,
            )
        },
        [
            *GATEWAY_AUTH_ERRORS,
            *BODY_ERRORS,
            PAYMENT_NOT_FOUND,
            KEY_REUSED,
            (422, "exceedsRefundableAmount", "More than is left to refund (body adds remainingRefundableAmount)."),
            (422, "paymentNotRefundable", "The payment was declined."),
        ],
        description="Idempotency-Key is unique per payment. A Summit card's statement gets a REFUND line.",
        parameters=[{"$ref": "#/components/parameters/PaymentId"}, IDEMPOTENCY_HEADER],
        request_body=_body("RefundRequest", {"partial": {"amount": 12000}}),
        security=GATEWAY_SECURITY,
    )


# --- Components ---------------------------------------------------------------------------------


def _security_schemes() -> dict[str, Any]:
    return {
        "oauth2": {
            "type": "oauth2",
            "description": "Client credentials; send the token as `Authorization: Bearer <token>`.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": TOKEN_PATH,
                    "scopes": {"/api": "Call the partner API and the card gateway."},
                }
            },
        },
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The access token from the token call."},
        "basicAuth": {"type": "http", "scheme": "basic", "description": "client_id:client_secret (token call only)."},
    }


def _parameters() -> dict[str, Any]:
    return {
        "ClientId": {
            "name": "client_id",
            "in": "header",
            "required": True,
            "description": "The partner's client id; must match the token.",
            "schema": {"type": "string"},
            "example": "harbour-mall",
        },
        "RequestUuid": {
            "name": "uuid",
            "in": "header",
            "required": True,
            "description": "A request id (UUID v4), echoed back in the response header `uuid`.",
            "schema": {"type": "string", "pattern": "^[0-9A-Za-z-]{1,64}$"},
            "example": "3f2b8a4e-9c1d-4e7a-b5f0-2d6c8e1a9b37",
        },
        "AcceptLanguage": {
            "name": "Accept-Language",
            "in": "header",
            "required": False,
            "description": "The cardholder's language: `zh-HK` (any `zh`) sends the OTP SMS in Traditional Chinese "
            "and remembers it for the link's resends (a resend without the header follows the link); anything else, "
            "or none, English. Every call's error `details` follow it too; codes and `type` never change.",
            "schema": {"type": "string"},
            "example": "zh-HK",
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": "Makes a retry safe: the same key and body replay the first response.",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,80}$"},
            "example": "HM-000123-pay-1",
        },
        "RewardLinkCode": {
            "name": "rewardLinkCode",
            "in": "path",
            "required": True,
            "description": "The opaque code returned by the enrol call.",
            "schema": {"type": "string", "maxLength": 64},
        },
        "OrderId": {
            "name": "orderId",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "maxLength": 40},
            "example": "RDM-7F3A9C2E51B04D86",
        },
        "PaymentId": {
            "name": "paymentId",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "maxLength": 40},
            "example": "PAY-4C1D8E0F2A7B6953E1D0",
        },
    }


def _any_call_responses() -> dict[str, Any]:
    """Errors any path under the API prefixes may answer, whatever the operation."""
    responses = {}
    for name, status, details in (
        ("NotFound", 404, "No operation has this path."),
        ("MethodNotAllowed", 405, "The path does not serve this method (the Allow header lists those it does)."),
    ):
        code = HTTP_ERRORS[status][0]
        schema = {"allOf": [schema_ref("Error"), {"type": "object", "properties": {"code": {"enum": [code]}}}]}
        example = {"type": error_type(status), "code": code, "details": HTTP_ERRORS[status][1]}
        responses[name] = {"description": f"`{code}`: {details}", **json_content(schema, {code: example})}
    return responses


def _headers() -> dict[str, Any]:
    return {
        "RequestUuid": {"description": "The request's uuid header, echoed.", "schema": {"type": "string"}},
        "IdempotentReplayed": {
            "description": "`true` when this is the stored first response to a repeated request.",
            "schema": {"type": "string", "enum": ["true"]},
        },
        "RetryAfter": {
            "description": "Seconds to wait before the next attempt can succeed.",
            "schema": {"type": "integer", "minimum": 1},
        },
    }


def _object(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False, **extra}
    if required is not None:
        schema["required"] = required
    return schema


def _response_object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """Response bodies may gain fields (extend, never rename), so clients must ignore unknown ones."""
    schema = _object(properties, required)
    del schema["additionalProperties"]
    return schema


DECIMAL_AMOUNT = {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$", "examples": ["520.00"]}
CENTS = {
    "type": "integer",
    "minimum": 1,
    "maximum": 10_000_000_000,
    "description": "Integer cents: 52000 is HK$520.00.",
}
ISO_TIME = {"type": "string", "format": "date-time"}


PAYMENT_REQUIRED = ["paymentId", "status", "declineCode", "amount", "currency", "merchantReference", "card"]


def _payment_properties(statuses: list[str]) -> dict[str, Schema]:
    return {
        "paymentId": {"type": "string"},
        "status": {"type": "string", "enum": statuses},
        "declineCode": {
            "type": ["string", "null"],
            "enum": ["invalidCardNumber", "expiredCard", "incorrectCvc", "cardFrozen", "insufficientCredit", None],
        },
        "amount": CENTS,
        "currency": {"type": "string"},
        "merchantReference": schema_ref("Reference"),
        "card": schema_ref("CardSummary"),
        "createdAt": ISO_TIME,
    }


@cache
def _model_schemas() -> dict[str, Any]:
    """The bodies' schemas generated from their pydantic models (schemas.py), $defs lifted into components."""
    generated: dict[str, Any] = {"Reference": TypeAdapter(schemas.Reference).json_schema()}
    for model in (*schemas.FORM_MODELS, *schemas.REQUEST_MODELS, *schemas.RESPONSE_MODELS):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        generated.update(schema.pop("$defs", {}))
        generated[model.__name__] = schema
    return generated


def _schemas() -> dict[str, Any]:
    return copy.deepcopy(_model_schemas())
