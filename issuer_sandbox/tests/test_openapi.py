"""The OpenAPI document at /openapi.json: valid, complete (every partner and gateway route) and true to the API."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from issuer_sandbox.api import auth as api_auth
from issuer_sandbox.api import gateway as api_gateway
from issuer_sandbox.api import links as api_links
from issuer_sandbox.api import redemptions as api_redemptions
from issuer_sandbox.api import token as api_token
from issuer_sandbox.api import validation as api_validation
from issuer_sandbox.api.errors import HTTP_ERRORS, error_type, partner_error_codes, rule_error_response
from issuer_sandbox.api.openapi import openapi_document
from issuer_sandbox.errors import error_classes
from issuer_sandbox.extensions import db
from issuer_sandbox.models import SmsMessage

from .conftest import CLIENT_ID, CLIENT_SECRET, basic_auth

API_DIR = Path(__file__).resolve().parents[1] / "api"
TOKEN_PATH = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
DOCUMENTED_PREFIXES = ("/gcb/", "/v1/", "/gateway/")
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
ALIAS_PATHS = {
    ("post", "/v1/apac/rewards/linkage"),
    ("post", "/v1/apac/rewards/{rewardLinkCode}/activations/otp"),
    ("put", "/v1/apac/rewards/{rewardLinkCode}/activations"),
    ("get", "/v1/apac/rewards/{rewardLinkCode}/pointBalance"),
    ("post", "/v1/apac/rewards/{rewardLinkCode}/redemption"),
    ("get", "/v1/apac/rewards/redemption/{orderId}"),
    ("get", "/v1/apac/rewards/redemption"),
    ("post", "/v1/apac/rewards/redemption/reversals"),
    ("delete", "/v1/apac/rewards/{rewardLinkCode}"),
    ("post", "/gateway/v1/payments"),
    ("get", "/gateway/v1/payments"),
    ("get", "/gateway/v1/payments/{paymentId}"),
    ("post", "/gateway/v1/payments/{paymentId}/refunds"),
}
# Every partner and gateway call at its primary path under /gcb/api, and at its unprefixed alias.
EXPECTED_PATHS = {
    ("post", "/gcb/api/clientCredentials/oauth2/token/hk/gcb"),
    *ALIAS_PATHS,
    *{(method, f"/gcb/api{path}") for method, path in ALIAS_PATHS},
}


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi_document()


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS}


def app_routes(app) -> set[tuple[str, str]]:
    """The app's partner and gateway routes as (method, OpenAPI path)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(DOCUMENTED_PREFIXES):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def shape(operations: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Path templates with their parameter names blanked: the code may call {rewardLinkCode} {code}."""
    return {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path in operations}


def operations_of(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def test_the_document_is_a_valid_openapi_3_1_document(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_partner_and_gateway_route_is_documented_and_nothing_else(app, document):
    assert shape(documented_operations(document)) == shape(app_routes(app))


def test_the_document_describes_the_paths_of_the_design(document):
    assert documented_operations(document) == EXPECTED_PATHS


def test_each_alias_documents_the_same_operation_as_its_primary_path(document):
    for method, alias in ALIAS_PATHS:
        primary = document["paths"][f"/gcb/api{alias}"][method]
        aliased = document["paths"][alias][method]

        assert aliased["operationId"] == primary["operationId"] + "Unprefixed"
        assert aliased["description"].startswith(f"Alias of `/gcb/api{alias}`")
        same = ("responses", "parameters", "requestBody", "security", "summary", "tags")
        assert {key: aliased.get(key) for key in same} == {key: primary.get(key) for key in same}


def test_served_document_is_the_same_dict_and_needs_no_token(client, document):
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == document


def test_sandbox_controls_and_console_are_not_documented(document):
    assert not [path for path in document["paths"] if not path.startswith(DOCUMENTED_PREFIXES)]


def test_security_schemes_offer_client_credentials_and_bearer(document):
    schemes = document["components"]["securitySchemes"]

    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == (
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
    )
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    for method, path, operation in operations_of(document):
        assert operation["security"], (method, path)


def _parameter_names(document: dict, operation: dict) -> set[str]:
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        names.add((parameter["in"], parameter["name"]))
    return names


def test_partner_calls_document_the_client_id_and_uuid_headers(document):
    for method, path, operation in operations_of(document):
        if path.startswith(("/v1/", "/gcb/api/v1/")):
            names = _parameter_names(document, operation)
            assert {("header", "client_id"), ("header", "uuid")} <= names, (method, path)


def test_money_moving_gateway_calls_document_the_idempotency_key(document):
    for method, path, operation in operations_of(document):
        if path.startswith(("/gateway/", "/gcb/api/gateway/")) and method == "post":
            assert ("header", "Idempotency-Key") in _parameter_names(document, operation), path


def test_every_path_parameter_is_declared(document):
    for method, path, operation in operations_of(document):
        in_path = set(re.findall(r"\{([^}]+)\}", path))
        declared = {name for where, name in _parameter_names(document, operation) if where == "path"}
        assert declared == in_path, (method, path)


def _codes_by_operation(document: dict) -> dict[tuple[str, str], set[tuple[int, str]]]:
    codes = {}
    for method, path, operation in operations_of(document):
        found = set()
        for status, response in operation["responses"].items():
            examples = response.get("content", {}).get("application/json", {}).get("examples", {})
            if int(status) >= 400:
                enum = response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"]
                assert sorted(enum) == sorted(examples), (method, path, status)
                found |= {(int(status), code) for code in enum}
        codes[(method, path)] = found
    return codes


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        (
            "post",
            "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
            {(401, "invalidClient"), (400, "unsupportedGrantType")},
        ),
        (
            "post",
            "/v1/apac/rewards/linkage",
            {
                (404, "accountNotFound"),
                (422, "notEligibleToRedeem"),
                (503, "otpDeliveryFailed"),
                (400, "invalidRequest"),
            },
        ),
        (
            "post",
            "/v1/apac/rewards/{rewardLinkCode}/activations/otp",
            {(429, "otpResendTooSoon"), (429, "maxResendsExceeded")},
        ),
        (
            "put",
            "/v1/apac/rewards/{rewardLinkCode}/activations",
            {
                (422, "invalidLinkageConfirmationCode"),
                (422, "otpExpired"),
                (423, "maxAttemptsExceeded"),
                (404, "invalidRewardLinkCode"),
            },
        ),
        (
            "get",
            "/v1/apac/rewards/{rewardLinkCode}/pointBalance",
            {(404, "invalidRewardLinkCode"), (422, "inactiveRewardLinkCode")},
        ),
        (
            "post",
            "/v1/apac/rewards/{rewardLinkCode}/redemption",
            {
                (409, "transactionAlreadyRedeemed"),
                (422, "inSufficientPointBalance"),
                (422, "belowMinimumPointsAllowed"),
                (422, "exceedsMaximumPointsAllowed"),
                (422, "exceedsMaximumAmountAllowed"),
                (422, "invalidPointsAndAmountCombination"),
                (422, "belowMinimumTransactionAmount"),
                (422, "inactiveRewardLinkCode"),
                (422, "notEligibleToRedeem"),
                (400, "invalidRequest"),
            },
        ),
        (
            "post",
            "/v1/apac/rewards/redemption/reversals",
            {
                (404, "redemptionNotFound"),
                (422, "exceedsReversiblePoints"),
                (422, "invalidPointsAndAmountCombination"),
                (409, "reversalAlreadyProcessed"),
            },
        ),
        (
            "post",
            "/gateway/v1/payments",
            {(400, "invalidRequest"), (409, "idempotencyKeyReused"), (401, "invalidToken")},
        ),
        ("get", "/gateway/v1/payments/{paymentId}", {(404, "paymentNotFound")}),
        (
            "post",
            "/gateway/v1/payments/{paymentId}/refunds",
            {
                (404, "paymentNotFound"),
                (409, "idempotencyKeyReused"),
                (422, "exceedsRefundableAmount"),
                (422, "paymentNotRefundable"),
            },
        ),
    ],
)
def test_each_operation_documents_the_error_codes_of_the_design(document, method, path, expected):
    assert expected <= _codes_by_operation(document)[(method, path)]


def _any_call_codes(document: dict) -> set[tuple[int, str]]:
    """The codes of components.responses: errors any path may answer (404 notFound, 405 methodNotAllowed)."""
    codes = set()
    for response in document["components"]["responses"].values():
        media = response["content"]["application/json"]
        for example in media["examples"].values():
            codes.add((HTTP_STATUS_OF[example["value"]["code"]], example["value"]["code"]))
    return codes


HTTP_STATUS_OF = {code: status for status, (code, _) in HTTP_ERRORS.items()}


def test_the_document_lists_exactly_the_codes_the_api_can_answer(document):
    """Read from the error table itself (every rule error's status and code, the HTTP-level codes, the fault
    and internal error): a new code is documented, and no documented code is one the API cannot answer."""
    documented = set().union(*_codes_by_operation(document).values()) | _any_call_codes(document)

    assert documented == partner_error_codes()


def test_the_error_table_holds_every_code_of_the_design(document):
    table = partner_error_codes()

    assert {
        (405, "methodNotAllowed"),
        (503, "sandboxInjectedFault"),
        (500, "internalError"),
        (404, "notFound"),
        (401, "invalidClient"),
        (401, "invalidToken"),
        (423, "maxAttemptsExceeded"),
        (429, "otpResendTooSoon"),
    } <= table
    codes = [code for _, code in table]
    assert len(codes) == len(set(codes)), "one code, one status"


def test_every_rule_error_carries_a_status_and_code_the_handler_renders(app):
    with app.test_request_context("/gcb/api/v1/apac/rewards/linkage"):
        for cls in error_classes():
            error = cls.__new__(cls)
            Exception.__init__(error, "why")
            error.__dict__.update(attempts_remaining=2, retry_after_seconds=30, remaining=100)
            response = rule_error_response(error)
            assert (response.status_code, response.json["code"]) == (cls.status, cls.code), cls
            assert response.json["type"] == error_type(cls.status), cls


def test_partner_api_modules_raise_only_errors_from_the_table():
    """ApiError takes any status and code: only the sandbox controls use it, the partner API never does."""
    for module in (api_auth, api_gateway, api_links, api_redemptions, api_token, api_validation):
        assert not hasattr(module, "ApiError"), module.__name__


def test_error_examples_follow_the_error_shape(document):
    for method, path, operation in operations_of(document):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            for name, example in response["content"]["application/json"]["examples"].items():
                oauth = {"error", "error_description"} if path == TOKEN_PATH else set()
                assert set(example["value"]) == {"type", "code", "details", *oauth}, (method, path, name)
                assert example["value"]["type"] == error_type(int(status)), (method, path, name)


def schema_validator(document: dict, schema: dict) -> OAS31Validator:
    """A validator for a schema whose $refs point into the document's components."""
    return OAS31Validator({**schema, "components": document["components"]})


def test_every_example_matches_its_schema(document):
    checked = 0
    for method, path, operation in operations_of(document):
        bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
        for body in bodies:
            for media in body.get("content", {}).values():
                for name, example in media.get("examples", {}).items():
                    errors = list(schema_validator(document, media["schema"]).iter_errors(example["value"]))
                    assert errors == [], (method, path, name, [e.message for e in errors])
                    checked += 1
    assert checked > 40


def test_examples_come_from_the_design(document):
    enrol = document["paths"]["/v1/apac/rewards/linkage"]["post"]["requestBody"]["content"]["application/json"]
    payment = document["paths"]["/gateway/v1/payments"]["post"]["requestBody"]["content"]["application/json"]

    assert enrol["examples"]["happyCard"]["value"]["lastFourDigitsCardNumber"] == "8741"
    assert enrol["examples"]["happyCard"]["value"]["citiCardHolderPhoneNumber"] == "91234567"
    assert payment["examples"]["happyCard"]["value"]["card"]["number"] == "4966 0100 0000 8741"


# --- The gateway's real answers match the document ----------------------------------------------


def response_schema(document: dict, method: str, path: str, status: int) -> dict:
    return document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


def assert_matches(document: dict, schema: dict, body: dict) -> None:
    errors = [error.message for error in schema_validator(document, schema).iter_errors(body)]
    assert errors == []


def test_gateway_answers_match_their_documented_schemas(app, api, document):
    payment_body = {
        "amount": 52000,
        "currency": "HKD",
        "card": {"number": "4966 0100 0000 8741", "expiryMonth": 12, "expiryYear": 2099, "cvc": "123"},
        "merchantReference": "HM-000123",
    }
    payment = api.post("/gateway/v1/payments", json=payment_body, headers={"Idempotency-Key": "k-1"})
    assert_matches(document, response_schema(document, "post", "/gateway/v1/payments", 201), payment.json)
    payment_id = payment.json["paymentId"]

    refund = api.post(
        f"/gateway/v1/payments/{payment_id}/refunds", json={"amount": 12000}, headers={"Idempotency-Key": "r-1"}
    )
    assert_matches(
        document, response_schema(document, "post", "/gateway/v1/payments/{paymentId}/refunds", 201), refund.json
    )

    detail = api.get(f"/gateway/v1/payments/{payment_id}")
    assert_matches(document, response_schema(document, "get", "/gateway/v1/payments/{paymentId}", 200), detail.json)

    listing = api.get("/gateway/v1/payments?merchantReference=HM-000123")
    assert_matches(document, response_schema(document, "get", "/gateway/v1/payments", 200), listing.json)

    conflict = api.post("/gateway/v1/payments", json={**payment_body, "amount": 1}, headers={"Idempotency-Key": "k-1"})
    assert_matches(document, response_schema(document, "post", "/gateway/v1/payments", 409), conflict.json)

    missing = api.get("/gateway/v1/payments/PAY-NOPE")
    assert_matches(document, response_schema(document, "get", "/gateway/v1/payments/{paymentId}", 404), missing.json)


def test_a_declined_payment_matches_its_documented_schema(api, document):
    body = {
        "amount": 100,
        "currency": "HKD",
        "card": {"number": "4966010000007404", "expiryMonth": 12, "expiryYear": 2099, "cvc": "123"},
        "merchantReference": "HM-1",
    }
    response = api.post("/gateway/v1/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})

    assert response.json["declineCode"] == "cardFrozen"
    assert_matches(document, response_schema(document, "post", "/gateway/v1/payments", 201), response.json)


def test_the_token_answer_matches_its_documented_schema(client, document):
    response = client.post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials", "scope": "/api"},
        headers={"Authorization": basic_auth(CLIENT_ID, CLIENT_SECRET)},
    )

    assert response.status_code == 200
    path = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
    assert_matches(document, response_schema(document, "post", path, 200), response.json)


def test_partner_answers_match_their_documented_schemas(app, api, document):
    """Walk enrol -> activate -> balance -> redeem -> look-ups -> reversal and check every answer."""
    rewards = "/v1/apac/rewards"
    enrol = api.post(
        f"{rewards}/linkage",
        json={
            "lastFourDigitsCardNumber": "8741",
            "citiCardHolderPhoneNumber": "91234567",
            "merchantCustomerReferenceId": "C-1001",
        },
    )
    assert enrol.status_code == 200, enrol.json
    assert_matches(document, response_schema(document, "post", f"{rewards}/linkage", 200), enrol.json)
    code = enrol.json["rewardLinkCode"]

    wrong = api.put(f"{rewards}/{code}/activations", json={"linkageConfirmationCode": "000000"})
    path = f"{rewards}/{{rewardLinkCode}}/activations"
    if wrong.status_code == 422:  # unless 000000 happened to be the OTP
        assert_matches(document, response_schema(document, "put", path, 422), wrong.json)
    activated = api.put(f"{rewards}/{code}/activations", json={"linkageConfirmationCode": latest_otp(app)})
    assert activated.status_code == 200, activated.json
    assert_matches(document, response_schema(document, "put", path, 200), activated.json)

    balance = api.get(f"{rewards}/{code}/pointBalance")
    assert_matches(
        document, response_schema(document, "get", f"{rewards}/{{rewardLinkCode}}/pointBalance", 200), balance.json
    )

    redeemed = api.post(
        f"{rewards}/{code}/redemption",
        json={
            "transactionReferenceNumber": "HM-000123",
            "redemptionOrder": {
                "transactionAmount": "520.00",
                "currencyCode": "HKD",
                "pointsToRedeem": 50000,
                "transactionDescription": "Harbour Mall order HM-000123",
            },
        },
    )
    assert redeemed.status_code == 200, redeemed.json
    assert_matches(
        document, response_schema(document, "post", f"{rewards}/{{rewardLinkCode}}/redemption", 200), redeemed.json
    )
    order_id = redeemed.json["orderId"]

    reversed_ = api.post(
        f"{rewards}/redemption/reversals",
        json={"orderId": order_id, "reversalReferenceNumber": "HM-000123-R1", "pointsToReverse": 25000},
    )
    assert reversed_.status_code == 200, reversed_.json
    assert_matches(document, response_schema(document, "post", f"{rewards}/redemption/reversals", 200), reversed_.json)

    by_id = api.get(f"{rewards}/redemption/{order_id}")
    assert_matches(document, response_schema(document, "get", f"{rewards}/redemption/{{orderId}}", 200), by_id.json)
    by_reference = api.get(f"{rewards}/redemption?transactionReferenceNumber=HM-000123")
    assert_matches(document, response_schema(document, "get", f"{rewards}/redemption", 200), by_reference.json)

    unlinked = api.delete(f"{rewards}/{code}")
    assert unlinked.status_code == 204
    gone = api.get(f"{rewards}/{code}/pointBalance")
    assert_matches(
        document, response_schema(document, "get", f"{rewards}/{{rewardLinkCode}}/pointBalance", 404), gone.json
    )


def latest_otp(app) -> str:
    """The OTP of the newest SMS, as a tester would read it from the outbox."""
    with app.app_context():
        body = db.session.scalar(sa.select(SmsMessage.body).order_by(SmsMessage.id.desc()))
    return re.search(r"\b(\d{6})\b", body).group(1)
