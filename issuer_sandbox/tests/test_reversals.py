"""POST /v1/apac/rewards/redemption/reversals and the reversal rules."""

import json
import re

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, ledger, redemptions, schemas, statement
from issuer_sandbox.api.openapi import openapi_document
from issuer_sandbox.extensions import db
from issuer_sandbox.models import CardStatementLine, Programme, Redemption, RedemptionReversal
from issuer_sandbox.money import cents_to_amount

from .redemption_support import (
    HAPPY,
    OTHER_CLIENT_ID,
    PREMIER,
    REVERSALS_PATH,
    card_ending,
    check_ledger,
    count,
    make_link,
    money_snapshot,
    partner_api,
    partner_id,
    points_of,
    redeem_path,
    redemption_body,
    set_card_status,
    set_link_status,
)

REVERSAL_ID = re.compile(r"^RVS-[0-9A-F]{20}$")


def redeemed(app, api, last4=HAPPY, points=50_000, amount="520.00", reference="HM-000123") -> str:
    """Redeem through the API and return the orderId."""
    response = api.post(
        redeem_path(make_link(app, last4)), json=redemption_body(reference=reference, points=points, amount=amount)
    )
    assert response.status_code == 200, response.json
    return response.json["orderId"]


def reversal(order_id: str, reference: str = "HM-000123-R1", points=50_000) -> dict:
    return {"orderId": order_id, "reversalReferenceNumber": reference, "pointsToReverse": points}


def test_a_full_reversal_gives_back_the_points_and_takes_back_the_credit(backend_app):
    app = backend_app
    api = partner_api(app)
    order_id = redeemed(app, api)
    response = api.post(REVERSALS_PATH, json=reversal(order_id))
    assert response.status_code == 200
    body = response.json
    assert REVERSAL_ID.match(body.pop("reversalId"))
    assert body == {
        "pointsReversed": 50_000,
        "amountReversed": "200.00",
        "remainingReversiblePoints": 0,
        "availablePointBalance": 120_000,
    }
    with app.app_context():
        card = card_ending(HAPPY)
        assert ledger.balance_of(card) == 120_000
        assert card.outstanding_cents == 0
        line = db.session.scalar(
            sa.select(CardStatementLine).where(CardStatementLine.kind == statement.POINTS_CREDIT_REVERSAL)
        )
        assert line.amount_cents == 20_000
        assert line.description == "Pay with Points credit reversed: Harbour Mall order HM-000123"
        assert (line.merchant_name, line.reference) == ("Harbour Mall", "HM-000123-R1")
        redemption = db.session.scalar(sa.select(Redemption))
        assert (redemption.status, redemption.points_reversed) == ("REVERSED", 50_000)
        stored = db.session.scalar(sa.select(RedemptionReversal))
        assert stored.response_body == response.get_data(as_text=True)
        assert ledger.check_ledger() == []


def test_partial_reversals_continue_until_nothing_is_left_and_add_up_to_the_credit(backend_app):
    app = backend_app
    api = partner_api(app)
    order_id = redeemed(app, api)
    first = api.post(REVERSALS_PATH, json=reversal(order_id, "R1", 20_000)).json
    assert (first["amountReversed"], first["remainingReversiblePoints"], first["availablePointBalance"]) == (
        "80.00",
        30_000,
        90_000,
    )
    status = api.get(f"/v1/apac/rewards/redemption/{order_id}").json
    assert (status["status"], status["pointsReversed"], status["remainingReversiblePoints"]) == (
        "PARTIALLY_REVERSED",
        20_000,
        30_000,
    )
    second = api.post(REVERSALS_PATH, json=reversal(order_id, "R2", 30_000)).json
    assert (second["amountReversed"], second["remainingReversiblePoints"]) == ("120.00", 0)
    third = api.post(REVERSALS_PATH, json=reversal(order_id, "R3", 25))
    assert (third.status_code, third.json["code"]) == (422, "exceedsReversiblePoints")
    status = api.get(f"/v1/apac/rewards/redemption/{order_id}").json
    assert status["status"] == "REVERSED"
    assert [(r["reversalReferenceNumber"], r["pointsReversed"], r["amountReversed"]) for r in status["reversals"]] == [
        ("R1", 20_000, "80.00"),
        ("R2", 30_000, "120.00"),
    ]
    assert all(REVERSAL_ID.match(r["reversalId"]) and r["createdAt"].endswith("Z") for r in status["reversals"])
    assert points_of(app) == 120_000
    assert check_ledger(app) == []


def test_a_reversal_works_after_the_link_was_unlinked_and_the_card_frozen(app):
    api = partner_api(app)
    order_id = redeemed(app, api)
    with app.app_context():
        link_code = db.session.scalar(sa.select(Redemption)).reward_link.code
    set_link_status(app, link_code, "UNLINKED")
    set_card_status(app, HAPPY, "FROZEN")
    response = api.post(REVERSALS_PATH, json=reversal(order_id))
    assert response.status_code == 200
    assert points_of(app) == 120_000


def test_the_premier_rate_reverses_exactly(app):
    api = partner_api(app)
    order_id = redeemed(app, api, PREMIER, points=12_340, amount="100.00")
    response = api.post(REVERSALS_PATH, json=reversal(order_id, points=2_020))
    assert response.json["amountReversed"] == "10.10"
    assert response.json["remainingReversiblePoints"] == 10_320


# --- Codes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "http_status", "code"),
    [
        (50_025, 422, "exceedsReversiblePoints"),
        (10_010, 422, "invalidPointsAndAmountCombination"),
    ],
)
def test_a_refused_reversal_answers_its_code_and_changes_nothing(app, points, http_status, code):
    api = partner_api(app)
    order_id = redeemed(app, api)
    before = money_snapshot(app)
    response = api.post(REVERSALS_PATH, json=reversal(order_id, points=points))
    assert (response.status_code, response.json["code"]) == (http_status, code)
    assert money_snapshot(app) == before
    assert code in documented_codes("/v1/apac/rewards/redemption/reversals", http_status)


def documented_codes(path: str, http_status: int) -> list[str]:
    """The codes the OpenAPI document allows for this status of the POST on ``path``."""
    response = openapi_document()["paths"][path]["post"]["responses"][str(http_status)]
    return response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["code"]["enum"]


def test_an_unknown_redemption_cannot_be_reversed(app):
    before = money_snapshot(app)
    response = partner_api(app).post(REVERSALS_PATH, json=reversal("RDM-UNKNOWN"))
    assert (response.status_code, response.json["code"]) == (404, "redemptionNotFound")
    assert money_snapshot(app) == before


def test_another_partners_redemption_cannot_be_reversed(app):
    order_id = redeemed(app, partner_api(app))
    before = money_snapshot(app)
    response = partner_api(app, OTHER_CLIENT_ID).post(REVERSALS_PATH, json=reversal(order_id))
    assert (response.status_code, response.json["code"]) == (404, "redemptionNotFound")
    assert money_snapshot(app) == before


BAD_REVERSALS = [
    pytest.param('{"orderId": "RDM-1", ', "application/json", id="malformed JSON"),
    pytest.param(json.dumps(reversal("ORDER")), "text/plain", id="wrong content type"),
    pytest.param(
        json.dumps({"reversalReferenceNumber": "R1", "pointsToReverse": 25}), "application/json", id="missing orderId"
    ),
    pytest.param(json.dumps({"orderId": "ORDER", "pointsToReverse": 25}), "application/json", id="missing reference"),
    pytest.param(
        json.dumps({"orderId": "ORDER", "reversalReferenceNumber": "R1"}), "application/json", id="missing points"
    ),
    pytest.param(json.dumps(reversal("ORDER", points="25000")), "application/json", id="points as string"),
    pytest.param(json.dumps(reversal("ORDER", points=-25_000)), "application/json", id="negative points"),
    pytest.param(json.dumps(reversal("ORDER", points=0)), "application/json", id="zero points"),
    pytest.param(json.dumps(reversal("ORDER")).replace("50000", "2500.5"), "application/json", id="fractional points"),
    pytest.param(json.dumps(reversal("ORDER")).replace("50000", "1e309"), "application/json", id="points 1e309"),
    pytest.param(json.dumps(reversal("ORDER", points=True)), "application/json", id="points as bool"),
    pytest.param(
        json.dumps(reversal("ORDER", reference="退款-1"), ensure_ascii=False),
        "application/json",
        id="unicode reference",
    ),
    pytest.param(json.dumps(reversal("ORDER", reference="R" * 65)), "application/json", id="reference too long"),
    pytest.param(json.dumps({**reversal("ORDER"), "reason": "x"}), "application/json", id="unknown field"),
]


@pytest.mark.parametrize(("data", "content_type"), BAD_REVERSALS)
def test_bad_reversal_input_is_an_invalid_request_and_changes_nothing(app, data, content_type):
    api = partner_api(app)
    order_id = redeemed(app, api)
    before = money_snapshot(app)
    response = api.post(REVERSALS_PATH, data=data.replace("ORDER", order_id).encode(), content_type=content_type)
    assert (response.status_code, response.json["code"]) == (400, "invalidRequest"), response.json
    assert money_snapshot(app) == before


def test_reversals_answer_only_post(app):
    response = partner_api(app).put(REVERSALS_PATH, json={})
    assert (response.status_code, response.json["code"]) == (405, "methodNotAllowed")


# --- Idempotency ------------------------------------------------------------------------------------


def test_a_repeated_reversal_replays_the_first_response_and_credits_once(backend_app):
    app = backend_app
    api = partner_api(app)
    order_id = redeemed(app, api)
    first = api.post(REVERSALS_PATH, json=reversal(order_id, points=20_000))
    again = api.post(REVERSALS_PATH, json=reversal(order_id, points=20_000))
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert points_of(app) == 90_000
    assert count(app, RedemptionReversal) == 1


def test_a_replay_answers_even_after_the_redemption_was_fully_reversed(app):
    api = partner_api(app)
    order_id = redeemed(app, api)
    first = api.post(REVERSALS_PATH, json=reversal(order_id, "R1", 50_000))
    again = api.post(REVERSALS_PATH, json=reversal(order_id, "R1", 50_000))
    assert again.get_data() == first.get_data()
    assert points_of(app) == 120_000


def test_a_reversal_reference_reused_with_another_body_is_a_conflict(app):
    api = partner_api(app)
    order_id = redeemed(app, api)
    api.post(REVERSALS_PATH, json=reversal(order_id, points=20_000))
    before = money_snapshot(app)
    response = api.post(REVERSALS_PATH, json=reversal(order_id, points=10_000))
    assert (response.status_code, response.json["code"]) == (409, "reversalAlreadyProcessed")
    assert money_snapshot(app) == before


def test_a_reversal_reference_reused_for_another_redemption_is_a_conflict(app):
    api = partner_api(app)
    first_order = redeemed(app, api, reference="HM-1")
    second_order = redeemed(app, api, reference="HM-2")
    api.post(REVERSALS_PATH, json=reversal(first_order, "R1", 1_000))
    response = api.post(REVERSALS_PATH, json=reversal(second_order, "R1", 1_000))
    assert (response.status_code, response.json["code"]) == (409, "reversalAlreadyProcessed")


def test_a_refused_reversal_stores_nothing_so_the_reference_can_be_retried(app):
    api = partner_api(app)
    order_id = redeemed(app, api)
    assert api.post(REVERSALS_PATH, json=reversal(order_id, "R1", 60_000)).status_code == 422
    retried = api.post(REVERSALS_PATH, json=reversal(order_id, "R1", 50_000))
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers


@pytest.mark.parametrize(("points", "outcome"), [(20_000, "replay"), (10_000, "conflict")])
def test_losing_the_race_to_the_unique_reversal_reference_is_rolled_back(backend_app, monkeypatch, points, outcome):
    app = backend_app
    api = partner_api(app)
    order_id = redeemed(app, api)
    first = api.post(REVERSALS_PATH, json=reversal(order_id, points=20_000))
    before = money_snapshot(app)
    real_lookup = redemptions._stored_reversal_for  # folded into the locking statement on SQLite
    calls = []

    def lookup_that_misses_once(locked, partner_client_id, reference):
        calls.append(reference)
        return None if len(calls) == 1 else real_lookup(locked, partner_client_id, reference)

    monkeypatch.setattr(redemptions, "_stored_reversal_for", lookup_that_misses_once)
    response = api.post(REVERSALS_PATH, json=reversal(order_id, points=points))
    assert len(calls) == 2
    if outcome == "replay":
        assert response.headers["Idempotent-Replayed"] == "true"
        assert response.get_data() == first.get_data()
    else:
        assert (response.status_code, response.json["code"]) == (409, "reversalAlreadyProcessed")
    assert money_snapshot(app) == before
    assert check_ledger(app) == []


# --- The rules, called directly ---------------------------------------------------------------------


def test_reverse_raises_redemption_not_found_for_another_partners_order(app):
    order_id = redeemed(app, partner_api(app))
    partner_api(app, OTHER_CLIENT_ID)  # creates the other partner
    with app.app_context(), pytest.raises(redemptions.RedemptionNotFound, match=order_id):
        redemptions.reverse(partner_id(OTHER_CLIENT_ID), redemptions.ReversalOrder(order_id, "R1", 25), clock.now())


def test_reverse_raises_exceeds_reversible_points_with_what_is_left(app):
    order_id = redeemed(app, partner_api(app))
    with app.app_context():
        redemptions.reverse(partner_id(), redemptions.ReversalOrder(order_id, "R1", 40_000), clock.now())
        with pytest.raises(redemptions.ExceedsReversiblePoints, match=f"Only 10000 points of {order_id}"):
            redemptions.reverse(partner_id(), redemptions.ReversalOrder(order_id, "R2", 10_025), clock.now())


def test_reverse_raises_reversal_already_processed_for_a_changed_body(app):
    order_id = redeemed(app, partner_api(app))
    with app.app_context():
        redemptions.reverse(partner_id(), redemptions.ReversalOrder(order_id, "R1", 25), clock.now())
        with pytest.raises(redemptions.ReversalAlreadyProcessed, match="R1 was already used"):
            redemptions.reverse(partner_id(), redemptions.ReversalOrder(order_id, "R1", 50), clock.now())


def test_what_is_left_may_be_reversed_even_off_the_increment(app):
    """If the programme's increment changes after a redemption, the remainder can still be reversed exactly."""
    order_id = redeemed(app, partner_api(app), points=50_025, amount="520.00")
    with app.app_context():
        db.session.scalar(sa.select(Programme).where(Programme.code == "REWARDS")).point_increment = 1_000
        db.session.commit()
        with pytest.raises(redemptions.InvalidPointsIncrement, match="multiples of 1000, or all 50025"):
            redemptions.reverse(partner_id(), redemptions.ReversalOrder(order_id, "R1", 1_025), clock.now())
        outcome = redemptions.reverse(partner_id(), redemptions.ReversalOrder(order_id, "R2", 50_025), clock.now())
    assert json.loads(outcome.body)["amountReversed"] == "200.10"
    assert points_of(app) == 120_000


@pytest.mark.parametrize(
    ("points", "amount", "remaining", "balance"),
    [(25, 10, 49_975, 70_025), (50_000, 20_000, 0, 0), (1, 1, 123_456_789, 987_654_321)],
)
def test_the_hand_written_reversal_body_is_the_models_json_byte_for_byte(points, amount, remaining, balance):
    """The body built under the write lock is what ``json.dumps`` of the documented model wrote (and stored)."""
    model = schemas.ReversalResponse(
        reversal_id="RVS-0123456789ABCDEF0123",
        points_reversed=points,
        amount_reversed=cents_to_amount(amount),
        remaining_reversible_points=remaining,
        available_point_balance=balance,
    )
    body = redemptions._reversal_body("RVS-0123456789ABCDEF0123", points, amount, remaining, balance)
    assert body == json.dumps(schemas.dump(model))


def test_a_stored_reversal_body_is_the_models_json_byte_for_byte(app):
    order_id = redeemed(app, partner_api(app))
    with app.app_context():
        outcome = redemptions.reverse(partner_id(), redemptions.ReversalOrder(order_id, "R1", 25), clock.now())
        stored = db.session.scalar(sa.select(RedemptionReversal.response_body))
        answer = json.loads(outcome.body)
        model = schemas.ReversalResponse.model_validate_json(outcome.body)
    assert stored == outcome.body == json.dumps(schemas.dump(model))
    assert REVERSAL_ID.match(answer["reversalId"])
    assert list(answer) == [
        "reversalId",
        "pointsReversed",
        "amountReversed",
        "remainingReversiblePoints",
        "availablePointBalance",
    ]
