"""The pydantic request models are the one source of each body: they validate it and they are the document's schema."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from issuer_sandbox import schemas
from issuer_sandbox.api.openapi import openapi_document
from issuer_sandbox.api.paths import TOKEN_PATH
from issuer_sandbox.api.validation import validate
from issuer_sandbox.errors import RuleError

MODEL_OF_SCHEMA = {model.__name__: model for model in schemas.REQUEST_MODELS}


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi_document()


def request_bodies(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media:
                yield method, path, media


def test_every_json_request_body_is_a_model_and_its_schema_is_the_models(document):
    seen = set()
    for method, path, media in request_bodies(document):
        name = media["schema"]["$ref"].rsplit("/", 1)[1]
        model = MODEL_OF_SCHEMA[name]
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)
        assert document["components"]["schemas"][name] == schema, (method, path)
        seen.add(name)
    assert seen == set(MODEL_OF_SCHEMA)


def test_the_token_calls_schemas_are_generated_from_their_models(document):
    """TokenRequest (the form), TokenResponse and OAuthError are no longer hand-written dicts."""
    for model in (schemas.TokenRequest, schemas.TokenResponse, schemas.OAuthError):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        assert document["components"]["schemas"][model.__name__] == generated, model.__name__
    form = document["paths"][TOKEN_PATH]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    for example in form["examples"].values():
        schemas.TokenRequest.model_validate(example["value"])
    assert schemas.OAuthError.model_json_schema()["required"] == [
        "type",
        "code",
        "details",
        "error",
        "error_description",
    ]


def test_every_request_example_in_the_document_passes_its_model(document):
    checked = 0
    for _method, _path, media in request_bodies(document):
        model = MODEL_OF_SCHEMA[media["schema"]["$ref"].rsplit("/", 1)[1]]
        for example in media["examples"].values():
            validate(model, example["value"])
            checked += 1
    assert checked >= 12


def test_request_schemas_are_closed_and_hold_no_float(document):
    for name in MODEL_OF_SCHEMA:
        assert document["components"]["schemas"][name]["additionalProperties"] is False, name


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"amount": 1.5}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 0}, "amount must be positive."),
        ({"amount": 100, "reason": "x"}, "Unknown field(s): reason."),
        ({}, "amount is required."),
        ([], "The body must be a JSON object."),
    ],
)
def test_a_model_error_is_a_400_invalid_request_naming_the_field(body, message):
    with pytest.raises(RuleError) as raised:
        validate(schemas.RefundRequest, body)

    assert (raised.value.status, raised.value.code) == (400, "invalidRequest")
    assert message in raised.value.details


def test_nested_fields_are_named_by_their_wire_path():
    body = {
        "transactionReferenceNumber": "HM-1",
        "redemptionOrder": {
            "transactionAmount": "5.555",
            "currencyCode": "HKD",
            "pointsToRedeem": 0,
            "transactionDescription": "x",
        },
    }
    with pytest.raises(RuleError) as raised:
        validate(schemas.RedemptionRequest, body)

    assert (
        "redemptionOrder.transactionAmount must be a decimal string with at most two decimals" in raised.value.details
    )
    assert "redemptionOrder.pointsToRedeem must be positive." in raised.value.details


def test_money_stays_decimal_and_points_whole():
    order = validate(
        schemas.RedemptionOrder,
        {
            "transactionAmount": Decimal("520.1"),
            "currencyCode": "HKD",
            "pointsToRedeem": Decimal("50000.0"),
            "transactionDescription": "x",
        },
    )

    assert order.transaction_amount == Decimal("520.10") and isinstance(order.transaction_amount, Decimal)
    assert order.points == 50000 and isinstance(order.points, int)


@pytest.mark.parametrize("model", schemas.RESPONSE_MODELS, ids=lambda model: model.__name__)
def test_modelled_responses_are_documented_by_their_model_and_stay_open(document, model):
    components = document["components"]["schemas"]
    schema = components[model.__name__]
    generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = generated.pop("$defs", {})

    assert schema == generated
    for name, nested_schema in nested.items():  # nested models (ReversalSummary, CardSummary) are components too
        assert components[name] == nested_schema
        assert "additionalProperties" not in nested_schema
    assert "additionalProperties" not in schema  # responses may gain fields: clients ignore unknown ones


def test_a_response_model_serialises_the_wires_field_names():
    body = schemas.EnrollResponse(
        reward_link_code="RL-1", link_status="PENDING_ACTIVATION", masked_phone_number="****4567"
    )

    assert body.to_json() == (
        '{"rewardLinkCode":"RL-1","linkStatus":"PENDING_ACTIVATION","maskedPhoneNumber":"****4567","otpExpiresAt":null}'
    )


def test_rules_answers_go_through_their_models_money_as_decimal_strings():
    answer = schemas.RedemptionResponse(
        order_id="RDM-1",
        status="COMPLETED",
        points_redeemed=50000,
        redeemed_amount="250.00",
        available_point_balance=10,
        credit_posting_date=date(2026, 3, 1),
    )

    assert schemas.dump(answer) == {
        "orderId": "RDM-1",
        "status": "COMPLETED",
        "pointsRedeemed": 50000,
        "redeemedAmount": "250.00",
        "availablePointBalance": 10,
        "creditPostingDate": "2026-03-01",
    }
    with pytest.raises(ValidationError):  # a float (or any number) is never money on the wire
        schemas.ReversalResponse(
            reversal_id="RVS-1",
            points_reversed=1,
            amount_reversed=2.5,
            remaining_reversible_points=0,
            available_point_balance=0,
        )
    with pytest.raises(ValidationError):  # a status the rules cannot answer
        schemas.RefundResponse(
            refund_id="RFD-1",
            status="PENDING",
            amount=100,
            payment_id="PAY-1",
            refunded_amount=100,
            remaining_refundable_amount=0,
            created_at="2026-03-01T00:00:00Z",
        )
