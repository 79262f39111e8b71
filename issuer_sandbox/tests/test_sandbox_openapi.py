"""GET /sandbox/api/openapi.json: the sandbox API's own document, its models, its examples and its error table."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from issuer_sandbox import sandbox_schemas
from issuer_sandbox.api import sandbox  # noqa: F401  (defines SandboxKeyInvalid)
from issuer_sandbox.api.errors import HTTP_ERRORS, INTERNAL_ERROR, RequestInvalid
from issuer_sandbox.api.openapi import openapi_document
from issuer_sandbox.api.sandbox_openapi import (
    FAULT_REQUEST_EXAMPLE,
    SANDBOX_ERRORS,
    sandbox_error_codes,
    sandbox_openapi_document,
)
from issuer_sandbox.config import SECRET_SETTINGS
from issuer_sandbox.errors import error_classes

from .conftest import close_app, make_app
from .console_support import enrol, enrol_and_activate, pay, redeem, sign_in
from .test_hardening import STRONG

KEY = {"X-Sandbox-Key": "demo-sandbox-key"}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document():
    return sandbox_openapi_document()


def schema_validator(document, schema):
    """A validator of ``schema`` whose $refs resolve against the document's components."""
    return Draft202012Validator({**schema, "components": document["components"]})


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def answer_schema(document, path: str, method: str, status: int):
    """The documented schema of one operation's answer with this status (KeyError: not documented)."""
    response = document["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def assert_documented(document, path: str, method: str, response) -> None:
    """The real answer has a documented status and validates against the documented schema of it."""
    responses = document["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, (method, path, response.status_code)
    if response.status_code == 204:
        assert response.data == b"" and "content" not in responses["204"]
        return
    schema = answer_schema(document, path, method, response.status_code)
    errors = [error.message for error in schema_validator(document, schema).iter_errors(response.json)]
    assert not errors, (method, path, errors)


def test_the_document_is_valid_openapi_3_1(document):
    validate_spec(document)
    assert document["openapi"] == "3.1.0"


def test_the_document_is_served_without_a_key_and_gone_with_the_controls_off(client, document, tmp_path):
    response = client.get("/sandbox/api/openapi.json")
    assert response.status_code == 200
    assert response.json == document

    app = make_app(f"sqlite:///{tmp_path / 'off.sqlite3'}", SANDBOX_CONTROLS="off")
    try:
        gone = app.test_client().get("/sandbox/api/openapi.json", headers=KEY)
        assert (gone.status_code, gone.json["code"]) == (404, "notFound")
    finally:
        close_app(app)


def test_the_console_api_reference_links_the_document_while_the_controls_are_on(app, client):
    assert sign_in(client).status_code == 302
    assert 'href="/sandbox/api/openapi.json"' in client.get("/reference").get_data(as_text=True)

    app.config["SANDBOX_CONTROLS"] = False
    assert "/sandbox/api/openapi.json" not in client.get("/reference").get_data(as_text=True)
    assert client.get("/sandbox/api/openapi.json").status_code == 404


def test_the_unguarded_document_names_no_key_or_secret(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'prod.sqlite3'}", ENV="production", SANDBOX_CONTROLS="on", **STRONG)
    try:
        served = app.test_client().get("/sandbox/api/openapi.json").get_data(as_text=True)
        assert not [setting for setting in SECRET_SETTINGS if app.config[setting] in served]
        assert "demo-sandbox-key" not in served
    finally:
        close_app(app)


def test_the_partner_document_stays_partner_only(document):
    partner_paths = set(openapi_document()["paths"])
    assert not [path for path in partner_paths if path.startswith("/sandbox")]
    assert not partner_paths & set(document["paths"])


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_0-9]+)>", r"{\1}", rule)


def test_every_sandbox_route_is_documented_and_nothing_else(app, document):
    routed = {
        (method.lower(), _openapi_path(rule.rule), rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/sandbox/api")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(method, path, op["x-flask-endpoint"]) for path, method, op in operations(document)}
    assert documented == routed
    assert {endpoint for _, _, endpoint in routed} == set(SANDBOX_ERRORS)


def test_every_example_validates_against_its_schema(document):
    checked = 0
    for path, method, operation in operations(document):
        bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
        for body in bodies:
            content = body.get("content", {}).get("application/json")
            if not content:
                continue
            validator = schema_validator(document, content["schema"])
            for name, example in content.get("examples", {}).items():
                errors = [error.message for error in validator.iter_errors(example["value"])]
                assert not errors, (method, path, name, errors)
                checked += 1
        for parameter in operation.get("parameters", []):
            if "example" in parameter:
                assert not list(schema_validator(document, parameter["schema"]).iter_errors(parameter["example"]))
    assert checked > 60  # every operation's answer and errors carry examples


def test_every_request_example_is_accepted_by_the_sandbox(client, document):
    """Each documented request body, sent as is, gets the documented success status."""
    sent = 0
    for path, method, operation in operations(document):
        if "requestBody" not in operation:
            continue
        success = next(status for status in operation["responses"] if status.startswith("2"))
        url = path.replace("{last4}", "8741")
        for example in operation["requestBody"]["content"]["application/json"]["examples"].values():
            response = getattr(client, method)(url, json=example["value"], headers=KEY)
            assert str(response.status_code) == success, (method, path, response.json)
            sent += 1
    assert sent == 4


def test_every_operation_is_an_example_of_its_model():
    """The hand-written examples also satisfy the models themselves (strict, closed)."""
    from issuer_sandbox.api import sandbox_openapi as doc

    sandbox_schemas.CardDetail.model_validate({**doc.CARD_EXAMPLE, "ledger": [doc.LEDGER_EXAMPLE], "statement": []})
    sandbox_schemas.NewTestCard.model_validate(doc.NEW_CARD_EXAMPLE)
    sandbox_schemas.RequestLogLine.model_validate(doc.LOG_EXAMPLE)
    sandbox_schemas.SmsMessage.model_validate(doc.SMS_EXAMPLE)
    sandbox_schemas.Link.model_validate(doc.LINK_EXAMPLE)
    sandbox_schemas.Fault.model_validate(doc.FAULT_EXAMPLE)


def documented_codes(document) -> set[tuple[int, str]]:
    codes = set()
    for _, _, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                codes |= {(int(status), code) for code in response["content"]["application/json"]["examples"]}
    return codes


def test_the_document_lists_exactly_the_codes_the_sandbox_api_can_answer(document):
    """Read from the error classes: the sandbox-only rule errors, the request checks, the HTTP-level codes."""
    answerable = {(cls.status, cls.code) for cls in error_classes() if cls.sandbox_only}
    answerable |= {(RequestInvalid.status, RequestInvalid.code), INTERNAL_ERROR[:2]}
    answerable |= {(status, code) for status, (code, _) in HTTP_ERRORS.items() if status != 400}
    assert sandbox_error_codes() == answerable
    assert documented_codes(document) == answerable


def test_each_operation_documents_its_own_errors_and_the_key_check(document):
    for path, _method, operation in operations(document):
        endpoint = operation["x-flask-endpoint"]
        assert operation["operationId"] == to_camel(endpoint.split(".")[1])
        for status, code, _ in SANDBOX_ERRORS[endpoint]:
            assert code in operation["responses"][str(status)]["content"]["application/json"]["examples"]
        keyed = operation["security"] == [{"sandboxKey": []}]
        assert keyed == (path != "/sandbox/api/openapi.json")
        assert keyed == ("401" in operation["responses"])


def test_real_answers_of_the_outbox_clock_log_and_reset_match_the_document(app, client, api, document):
    enrol(api)
    for path, query in (("/sandbox/api/sms", "?phone=9123%204567"), ("/sandbox/api/requests", "?limit=5")):
        response = client.get(path + query, headers=KEY)
        assert response.status_code == 200 and response.json
        assert_documented(document, path, "get", response)
    assert client.get("/sandbox/api/sms", headers=KEY).json[0]["otp"]
    assert_documented(document, "/sandbox/api/clock", "get", client.get("/sandbox/api/clock", headers=KEY))
    advanced = client.post("/sandbox/api/clock/advance", json={"seconds": 60}, headers=KEY)
    assert advanced.json["offsetSeconds"] == 60
    assert_documented(document, "/sandbox/api/clock/advance", "post", advanced)
    bad = client.post("/sandbox/api/clock/advance", json={"seconds": "60"}, headers=KEY)
    assert bad.status_code == 400
    assert_documented(document, "/sandbox/api/clock/advance", "post", bad)
    assert_documented(document, "/sandbox/api/reset", "post", client.post("/sandbox/api/reset", headers=KEY))
    assert_documented(document, "/sandbox/api/sms", "get", client.get("/sandbox/api/sms"))  # 401, no key


def test_real_answers_of_cards_and_cardholders_match_the_document(app, client, api, document):
    code = enrol_and_activate(api, app)
    pay(api)
    redeem(api, code)
    cards = "/sandbox/api/cards"
    for path, method, body in (
        (cards, "get", None),
        (f"{cards}/{{last4}}", "get", None),
        (f"{cards}/{{last4}}/freeze", "post", None),
        (f"{cards}/{{last4}}/unfreeze", "post", None),
        (f"{cards}/{{last4}}/points", "post", {"delta": -5000, "reason": "test"}),
        (f"{cards}/{{last4}}/points", "post", {"delta": -(10**9), "reason": "too much"}),
    ):
        url = path.replace("{last4}", "8741")
        call = getattr(client, method)
        response = call(url, json=body, headers=KEY) if body else call(url, headers=KEY)
        assert_documented(document, path, method, response)
    detail = client.get(f"{cards}/8741", headers=KEY).json
    assert detail["ledger"] and detail["statement"] and "number" not in detail
    assert_documented(document, f"{cards}/{{last4}}", "get", client.get(f"{cards}/0000", headers=KEY))  # 404

    made = client.post("/sandbox/api/cardholders", json={"name": "TAM WAI KEI", "mobile": "98765432"}, headers=KEY)
    assert made.status_code == 201 and made.json["number"].endswith(made.json["last4"])
    assert_documented(document, "/sandbox/api/cardholders", "post", made)
    refused = client.post("/sandbox/api/cardholders", json={"name": "X", "mobile": "1"}, headers=KEY)
    assert refused.status_code in (400, 422)
    assert_documented(document, "/sandbox/api/cardholders", "post", refused)


def test_a_new_cardholder_outside_demo_mode_is_documented_without_its_number(tmp_path, document):
    app = make_app(f"sqlite:///{tmp_path / 'prod.sqlite3'}", ENV="production", SANDBOX_CONTROLS="on", **STRONG)
    try:
        made = app.test_client().post(
            "/sandbox/api/cardholders",
            json={"name": "TAM WAI KEI", "mobile": "98765432"},
            headers={"X-Sandbox-Key": STRONG["SANDBOX_KEY"]},
        )
        assert made.status_code == 201 and "number" not in made.json
        assert_documented(document, "/sandbox/api/cardholders", "post", made)
    finally:
        close_app(app)


def test_real_answers_of_faults_ledger_and_links_match_the_document(app, client, api, document):
    code = enrol_and_activate(api, app)
    redeem(api, code)
    faults = "/sandbox/api/faults"
    created = client.post(faults, json=FAULT_REQUEST_EXAMPLE, headers=KEY)
    assert created.status_code == 201
    assert_documented(document, faults, "post", created)
    assert_documented(document, faults, "post", client.post(faults, json={"endpoint": "nope"}, headers=KEY))
    assert_documented(document, faults, "get", client.get(faults, headers=KEY))
    one = f"{faults}/{created.json['id']}"
    assert_documented(document, f"{faults}/{{fault_id}}", "get", client.get(one, headers=KEY))
    assert_documented(document, f"{faults}/{{fault_id}}", "delete", client.delete(one, headers=KEY))
    assert_documented(document, f"{faults}/{{fault_id}}", "delete", client.delete(one, headers=KEY))  # 404

    health = client.get("/sandbox/api/ledger/health", headers=KEY)
    assert health.json["ledgerCheck"]["ok"] is True
    assert_documented(document, "/sandbox/api/ledger/health", "get", health)
    links = client.get("/sandbox/api/links?status=ACTIVE", headers=KEY)
    assert [link["rewardLinkCode"] for link in links.json["links"]] == [code]
    assert_documented(document, "/sandbox/api/links", "get", links)
    assert_documented(document, "/sandbox/api/links", "get", client.get("/sandbox/api/links?status=X", headers=KEY))
    link = f"/sandbox/api/links/{links.json['links'][0]['id']}"
    for expected in (200, 409):
        response = client.delete(link, headers=KEY)
        assert response.status_code == expected
        assert_documented(document, "/sandbox/api/links/{link_id}", "delete", response)


def test_a_method_a_path_does_not_serve_is_documented(client, document):
    response = client.put("/sandbox/api/clock", headers=KEY)
    assert (response.status_code, response.json["code"]) == (405, "methodNotAllowed")
    assert_documented(document, "/sandbox/api/clock", "get", response)


def test_answer_models_are_strict_and_closed():
    from issuer_sandbox.api.sandbox_openapi import CLOCK_EXAMPLE, FAULT_EXAMPLE

    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        sandbox_schemas.Clock.model_validate({**CLOCK_EXAMPLE, "timezone": "UTC"})
    with pytest.raises(ValidationError, match="valid integer"):
        sandbox_schemas.Fault.model_validate({**FAULT_EXAMPLE, "latencyMs": "0"})
    with pytest.raises(ValidationError, match="valid string"):
        sandbox_schemas.StatementLine.model_validate(
            {
                "id": 1,
                "kind": "REFUND",
                "amount": Decimal("-1.00"),
                "currencyCode": "HKD",
                "description": "",
                "merchantName": "",
                "reference": "",
                "transactionDate": "2026-11-26T08:00:00Z",
                "postingDate": "2026-11-26",
            }
        )


def test_money_in_the_schemas_is_a_decimal_string_never_a_number(document):
    schemas = document["components"]["schemas"]
    for name, field in (
        ("SandboxCard", "creditLimit"),
        ("SandboxCard", "outstanding"),
        ("SandboxCard", "creditAvailable"),
        ("StatementLine", "amount"),
    ):
        assert schemas[name]["properties"][field]["type"] == "string"
        assert "pattern" in schemas[name]["properties"][field]
