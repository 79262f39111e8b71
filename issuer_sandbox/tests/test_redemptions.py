"""POST /v1/apac/rewards/{rewardLinkCode}/redemption, the redemption look-ups, and the rules behind them."""

import hashlib
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, ledger, redemptions, schemas, statement
from issuer_sandbox.extensions import db
from issuer_sandbox.links import LinkNotFound
from issuer_sandbox.models import CardStatementLine, LedgerAccount, Redemption
from issuer_sandbox.money import cents_to_amount

from .redemption_support import (
    DEBIT,
    FROZEN,
    HAPPY,
    LOW,
    OTHER_CLIENT_ID,
    PREMIER,
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

ORDER_ID = re.compile(r"^RDM-[0-9A-F]{20}$")


def order(**overrides) -> redemptions.RedemptionOrder:
    values = {
        "transaction_reference": "HM-000123",
        "transaction_amount": Decimal("520.00"),
        "currency_code": "HKD",
        "points": 50_000,
        "description": "Harbour Mall order HM-000123",
    }
    return redemptions.RedemptionOrder(**{**values, **overrides})


# --- The happy path -------------------------------------------------------------------------------


def test_a_redemption_answers_the_documented_body(app):
    response = partner_api(app).post(redeem_path(make_link(app)), json=redemption_body())
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers
    body = response.json
    assert ORDER_ID.match(body.pop("orderId"))
    with app.app_context():
        today = clock.now().date().isoformat()
    assert body == {
        "status": "COMPLETED",
        "pointsRedeemed": 50_000,
        "redeemedAmount": "200.00",
        "availablePointBalance": 70_000,
        "creditPostingDate": today,
    }


def test_a_redemption_debits_the_ledger_stores_the_response_and_posts_a_statement_credit(backend_app):
    app = backend_app
    response = partner_api(app).post(redeem_path(make_link(app)), json=redemption_body())
    assert response.status_code == 200
    with app.app_context():
        card = card_ending(HAPPY)
        assert ledger.balance_of(card) == 70_000
        pool = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == "redemption:REWARDS"))
        assert pool.balance == 50_000
        redemption = db.session.scalar(sa.select(Redemption))
        assert redemption.response_body == response.get_data(as_text=True)
        assert redemption.request_fingerprint == redemptions.redemption_fingerprint(
            redemption.reward_link.code, order()
        )
        assert (redemption.points, redemption.amount_cents, redemption.transaction_amount_cents) == (
            50_000,
            20_000,
            52_000,
        )
        line = db.session.scalar(sa.select(CardStatementLine).where(CardStatementLine.card_id == card.id))
        assert line.kind == statement.POINTS_CREDIT
        assert line.amount_cents == -20_000
        assert line.description == "Pay with Points credit: Harbour Mall order HM-000123"
        assert line.merchant_name == "Harbour Mall"
        assert line.reference == "HM-000123"
        assert line.posting_date.isoformat() == response.json["creditPostingDate"]
        assert card.outstanding_cents == -20_000
        assert ledger.check_ledger() == []


def test_the_credit_is_exact_on_the_premier_rate(app):
    body = redemption_body(points=12_340, amount="100.00")
    response = partner_api(app).post(redeem_path(make_link(app, PREMIER)), json=body)
    assert response.status_code == 200
    assert response.json["redeemedAmount"] == "61.70"
    assert response.json["availablePointBalance"] == 2_000_000 - 12_340


def test_the_credit_may_equal_the_transaction_amount(app):
    response = partner_api(app).post(redeem_path(make_link(app)), json=redemption_body(amount="200.00"))
    assert response.status_code == 200
    assert response.json["redeemedAmount"] == "200.00"


@pytest.mark.parametrize("amount", ['"520"', '"520.5"', '"520.00"', "520", "520.50", "520.0", "5.2e2"])
def test_amounts_may_be_decimal_strings_or_json_numbers(app, amount):
    data = raw_body(transactionAmount=amount)
    response = partner_api(app).post(redeem_path(make_link(app)), data=data, content_type="application/json")
    assert response.status_code == 200, response.json
    assert response.json["redeemedAmount"] == "200.00"


def test_the_credit_posting_date_follows_the_sandbox_clock(app):
    with app.app_context():
        clock.advance(3 * 86_400)
        db.session.commit()
    before = (clock.real_utcnow() + timedelta(days=3)).date().isoformat()
    response = partner_api(app).post(redeem_path(make_link(app)), json=redemption_body())
    after = (clock.real_utcnow() + timedelta(days=3)).date().isoformat()
    assert response.json["creditPostingDate"] in (before, after)


# --- Every documented code ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last4", "link_status", "body", "http_status", "code"),
    [
        (HAPPY, "ACTIVE", redemption_body(points=120_025, amount="1000.00"), 422, "inSufficientPointBalance"),
        (LOW, "ACTIVE", redemption_body(points=1_000, amount="100.00"), 422, "inSufficientPointBalance"),
        (HAPPY, "ACTIVE", redemption_body(points=975), 422, "belowMinimumPointsAllowed"),
        (HAPPY, "ACTIVE", redemption_body(points=1_000_025, amount="5000.00"), 422, "exceedsMaximumPointsAllowed"),
        (PREMIER, "ACTIVE", redemption_body(points=1_000_020, amount="6000.00"), 422, "exceedsMaximumPointsAllowed"),
        (HAPPY, "ACTIVE", redemption_body(points=50_000, amount="199.99"), 422, "exceedsMaximumAmountAllowed"),
        (HAPPY, "ACTIVE", redemption_body(points=50_010), 422, "invalidPointsAndAmountCombination"),
        (PREMIER, "ACTIVE", redemption_body(points=1_010), 422, "invalidPointsAndAmountCombination"),
        (HAPPY, "ACTIVE", redemption_body(points=1_000, amount="9.99"), 422, "belowMinimumTransactionAmount"),
        (HAPPY, "PENDING_ACTIVATION", redemption_body(), 422, "inactiveRewardLinkCode"),
        (HAPPY, "LOCKED", redemption_body(), 422, "inactiveRewardLinkCode"),
        (HAPPY, "UNLINKED", redemption_body(), 404, "invalidRewardLinkCode"),
        (FROZEN, "ACTIVE", redemption_body(), 422, "notEligibleToRedeem"),
        (DEBIT, "ACTIVE", redemption_body(), 422, "notEligibleToRedeem"),
    ],
)
def test_a_refused_redemption_answers_its_code_and_changes_nothing(app, last4, link_status, body, http_status, code):
    api = partner_api(app)
    link = make_link(app, last4, status=link_status)
    before = money_snapshot(app)
    response = api.post(redeem_path(link), json=body)
    assert response.status_code == http_status
    assert response.json["code"] == code
    assert response.json["type"] == "error"  # a business rule or state (404, 409, 422), as the real issuer says
    assert money_snapshot(app) == before


def test_an_unknown_link_code_cannot_redeem(app):
    before = money_snapshot(app)
    response = partner_api(app).post(redeem_path("RL-unknown"), json=redemption_body())
    assert (response.status_code, response.json["code"]) == (404, "invalidRewardLinkCode")
    assert money_snapshot(app) == before


def test_another_partners_link_cannot_redeem(app):
    link = make_link(app, HAPPY, client_id=OTHER_CLIENT_ID)
    before = money_snapshot(app)
    response = partner_api(app).post(redeem_path(link), json=redemption_body())
    assert (response.status_code, response.json["code"]) == (404, "invalidRewardLinkCode")
    assert money_snapshot(app) == before


def test_freezing_a_linked_card_stops_redemption(app):
    link = make_link(app, HAPPY)
    set_card_status(app, HAPPY, "FROZEN")
    response = partner_api(app).post(redeem_path(link), json=redemption_body())
    assert (response.status_code, response.json["code"]) == (422, "notEligibleToRedeem")
    assert points_of(app) == 120_000


# --- Bad input --------------------------------------------------------------------------------------

VALID_FIELDS = {
    "transactionReferenceNumber": '"HM-000123"',
    "transactionAmount": '"520.00"',
    "currencyCode": '"HKD"',
    "pointsToRedeem": "50000",
    "transactionDescription": '"Harbour Mall order HM-000123"',
}
DROP = object()


def raw_body(**fragments) -> str:
    """A redemption body as JSON text, each field given as its raw JSON (so 1e309 and NaN can be sent)."""
    fields = {**VALID_FIELDS, **fragments}
    order_keys = ("transactionAmount", "currencyCode", "pointsToRedeem", "transactionDescription")
    inner = ", ".join(f'"{key}": {fields[key]}' for key in order_keys if fields[key] is not DROP)
    outer = [f'"{key}": {fields[key]}' for key in ("transactionReferenceNumber",) if fields[key] is not DROP]
    outer.append(f'"redemptionOrder": {{{inner}}}')
    return "{" + ", ".join(outer) + "}"


BAD_REDEMPTIONS = [
    pytest.param('{"transactionReferenceNumber": "HM-1", ', "application/json", id="malformed JSON"),
    pytest.param("", "application/json", id="empty body"),
    pytest.param(raw_body(), "text/plain", id="wrong content type"),
    pytest.param("transactionReferenceNumber=HM-1", "application/x-www-form-urlencoded", id="form encoded"),
    pytest.param("[" + raw_body() + "]", "application/json", id="array body"),
    pytest.param('{"transactionReferenceNumber": "HM-1"}', "application/json", id="missing redemptionOrder"),
    pytest.param(
        '{"transactionReferenceNumber": "HM-1", "redemptionOrder": "x"}',
        "application/json",
        id="redemptionOrder not an object",
    ),
    pytest.param(raw_body(transactionReferenceNumber=DROP), "application/json", id="missing reference"),
    pytest.param(raw_body(transactionAmount=DROP), "application/json", id="missing amount"),
    pytest.param(raw_body(currencyCode=DROP), "application/json", id="missing currency"),
    pytest.param(raw_body(pointsToRedeem=DROP), "application/json", id="missing points"),
    pytest.param(raw_body(transactionDescription=DROP), "application/json", id="missing description"),
    pytest.param(raw_body(pointsToRedeem='"50000"'), "application/json", id="points as string"),
    pytest.param(raw_body(pointsToRedeem="-25000"), "application/json", id="negative points"),
    pytest.param(raw_body(pointsToRedeem="0"), "application/json", id="zero points"),
    pytest.param(raw_body(pointsToRedeem="50000.5"), "application/json", id="fractional points"),
    pytest.param(raw_body(pointsToRedeem="2.5e-1"), "application/json", id="float points"),
    pytest.param(raw_body(pointsToRedeem="1e309"), "application/json", id="points 1e309"),
    pytest.param(raw_body(pointsToRedeem="10000000000025"), "application/json", id="points too large"),
    pytest.param(raw_body(pointsToRedeem="true"), "application/json", id="points as bool"),
    pytest.param(raw_body(pointsToRedeem="null"), "application/json", id="points null"),
    pytest.param(raw_body(pointsToRedeem="[50000]"), "application/json", id="points as list"),
    pytest.param(raw_body(pointsToRedeem="NaN"), "application/json", id="points NaN"),
    pytest.param(raw_body(transactionAmount='"520.001"'), "application/json", id="amount with 3 decimals"),
    pytest.param(raw_body(transactionAmount="520.001"), "application/json", id="number with 3 decimals"),
    pytest.param(raw_body(transactionAmount='"1e309"'), "application/json", id="amount string 1e309"),
    pytest.param(raw_body(transactionAmount="1e309"), "application/json", id="amount number 1e309"),
    pytest.param(raw_body(transactionAmount="Infinity"), "application/json", id="amount Infinity"),
    pytest.param(raw_body(transactionAmount='"abc"'), "application/json", id="amount not a number"),
    pytest.param(raw_body(transactionAmount='"-520.00"'), "application/json", id="negative amount"),
    pytest.param(raw_body(transactionAmount='"0.00"'), "application/json", id="zero amount"),
    pytest.param(raw_body(transactionAmount='"520,00"'), "application/json", id="amount with a comma"),
    pytest.param(raw_body(transactionAmount='""'), "application/json", id="empty amount"),
    pytest.param(raw_body(transactionAmount="true"), "application/json", id="amount as bool"),
    pytest.param(raw_body(currencyCode='"USD"'), "application/json", id="another currency"),
    pytest.param(raw_body(currencyCode='"XYZ"'), "application/json", id="unknown currency"),
    pytest.param(raw_body(currencyCode='"hkd"'), "application/json", id="lower-case currency"),
    pytest.param(raw_body(currencyCode="344"), "application/json", id="numeric currency"),
    pytest.param(raw_body(transactionReferenceNumber='"訂單-000123"'), "application/json", id="unicode reference"),
    pytest.param(
        raw_body(transactionReferenceNumber='"HM-０００１２３"'),
        "application/json",
        id="full-width digits in reference",
    ),
    pytest.param(
        raw_body(transactionReferenceNumber='"HM-000123\\n"'), "application/json", id="trailing newline in reference"
    ),
    pytest.param(raw_body(transactionReferenceNumber='"HM 000123"'), "application/json", id="space in reference"),
    pytest.param(
        raw_body(transactionReferenceNumber='"' + "H" * 65 + '"'), "application/json", id="reference too long"
    ),
    pytest.param(raw_body(transactionReferenceNumber='""'), "application/json", id="empty reference"),
    pytest.param(raw_body(transactionReferenceNumber="123"), "application/json", id="numeric reference"),
    pytest.param(raw_body(transactionDescription='"' + "d" * 141 + '"'), "application/json", id="description too long"),
    pytest.param(
        raw_body(transactionDescription='"line\\nbreak"'), "application/json", id="control character in description"
    ),
    pytest.param(raw_body(transactionDescription="42"), "application/json", id="numeric description"),
    pytest.param(
        raw_body().replace('{"transactionReferenceNumber"', '{"extra": 1, "transactionReferenceNumber"'),
        "application/json",
        id="unknown top-level field",
    ),
    pytest.param(
        raw_body().replace('{"transactionAmount"', '{"cashback": "1.00", "transactionAmount"'),
        "application/json",
        id="unknown order field",
    ),
]


@pytest.mark.parametrize(("data", "content_type"), BAD_REDEMPTIONS)
def test_bad_input_is_an_invalid_request_and_changes_nothing(app, data, content_type):
    api = partner_api(app)
    link = make_link(app)
    before = money_snapshot(app)
    response = api.post(redeem_path(link), data=data.encode(), content_type=content_type)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["type"] == "invalid"
    assert response.json["code"] == "invalidRequest"
    assert response.json["details"]
    assert money_snapshot(app) == before


def test_the_raw_body_helper_builds_a_valid_redemption(app):
    response = partner_api(app).post(redeem_path(make_link(app)), data=raw_body(), content_type="application/json")
    assert response.status_code == 200


def test_an_oversized_body_is_refused_and_changes_nothing(app):
    api = partner_api(app)
    link = make_link(app)
    before = money_snapshot(app)
    data = raw_body(transactionDescription='"' + "x" * 70_000 + '"')
    response = api.post(redeem_path(link), data=data, content_type="application/json")
    assert response.status_code == 413
    assert response.json["code"] == "requestTooLarge"
    assert money_snapshot(app) == before


def test_redemption_answers_only_post(app):
    response = partner_api(app).get(redeem_path(make_link(app)))
    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"


# --- Idempotency ------------------------------------------------------------------------------------


def test_a_repeated_request_replays_the_first_response_and_debits_once(backend_app):
    app = backend_app
    api = partner_api(app)
    link = make_link(app)
    first = api.post(redeem_path(link), json=redemption_body())
    again = api.post(redeem_path(link), json=redemption_body())
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert points_of(app) == 70_000
    assert count(app, Redemption) == 1
    assert count(app, CardStatementLine) == 1


def test_the_same_values_written_differently_are_the_same_request(app):
    api = partner_api(app)
    link = make_link(app)
    first = api.post(redeem_path(link), json=redemption_body(amount="520.00"))
    data = raw_body(transactionAmount="520", pointsToRedeem="50000.0")
    again = api.post(redeem_path(link), data=data, content_type="application/json")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["orderId"] == first.json["orderId"]
    assert points_of(app) == 70_000


@pytest.mark.parametrize(
    "changed",
    [
        redemption_body(points=25_000),
        redemption_body(amount="521.00"),
        redemption_body(description="Another order"),
    ],
)
def test_a_reference_reused_with_another_body_is_a_conflict(app, changed):
    api = partner_api(app)
    link = make_link(app)
    api.post(redeem_path(link), json=redemption_body())
    before = money_snapshot(app)
    response = api.post(redeem_path(link), json=changed)
    assert (response.status_code, response.json["code"]) == (409, "transactionAlreadyRedeemed")
    assert response.json["type"] == "error"
    assert money_snapshot(app) == before


def test_a_reference_reused_on_another_link_is_a_conflict(app):
    api = partner_api(app)
    api.post(redeem_path(make_link(app, HAPPY)), json=redemption_body())
    response = api.post(redeem_path(make_link(app, PREMIER)), json=redemption_body())
    assert (response.status_code, response.json["code"]) == (409, "transactionAlreadyRedeemed")
    assert points_of(app, PREMIER) == 2_000_000


def test_references_are_per_partner(app):
    ours = partner_api(app).post(redeem_path(make_link(app, HAPPY)), json=redemption_body())
    theirs = partner_api(app, OTHER_CLIENT_ID).post(
        redeem_path(make_link(app, PREMIER, client_id=OTHER_CLIENT_ID)), json=redemption_body()
    )
    assert ours.status_code == theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs.headers
    assert ours.json["orderId"] != theirs.json["orderId"]


def test_a_refused_attempt_stores_nothing_so_the_reference_can_be_retried_with_fewer_points(app):
    api = partner_api(app)
    link = make_link(app)
    refused = api.post(redeem_path(link), json=redemption_body(points=120_025, amount="1000.00"))
    assert refused.json["code"] == "inSufficientPointBalance"
    retried = api.post(redeem_path(link), json=redemption_body(points=50_000))
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers
    assert points_of(app) == 70_000


def test_a_replay_still_answers_after_the_link_was_unlinked_or_the_card_frozen(app):
    api = partner_api(app)
    link = make_link(app)
    first = api.post(redeem_path(link), json=redemption_body())
    set_link_status(app, link, "UNLINKED")
    set_card_status(app, HAPPY, "FROZEN")
    again = api.post(redeem_path(link), json=redemption_body())
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    fresh = api.post(redeem_path(link), json=redemption_body(reference="HM-000124"))
    assert (fresh.status_code, fresh.json["code"]) == (404, "invalidRewardLinkCode")


@pytest.mark.parametrize(
    ("second_body", "outcome"), [(redemption_body(), "replay"), (redemption_body(points=25_000), "conflict")]
)
def test_losing_the_race_to_the_unique_reference_is_rolled_back_and_answered_from_the_winner(
    backend_app, monkeypatch, second_body, outcome
):
    """The winner commits between our reference look-up and our insert: the unique constraint catches it."""
    app = backend_app
    api = partner_api(app)
    link = make_link(app)
    first = api.post(redeem_path(link), json=redemption_body())
    before = money_snapshot(app)
    real_lookup = redemptions._stored_for  # folded into the locking statement on SQLite, its own elsewhere
    calls = []

    def lookup_that_misses_once(locked, partner_client_id, reference):
        calls.append(reference)
        return None if len(calls) == 1 else real_lookup(locked, partner_client_id, reference)

    monkeypatch.setattr(redemptions, "_stored_for", lookup_that_misses_once)
    response = api.post(redeem_path(link), json=second_body)
    assert len(calls) == 2
    if outcome == "replay":
        assert response.status_code == 200
        assert response.headers["Idempotent-Replayed"] == "true"
        assert response.get_data() == first.get_data()
    else:
        assert (response.status_code, response.json["code"]) == (409, "transactionAlreadyRedeemed")
    assert money_snapshot(app) == before
    assert check_ledger(app) == []


# --- Look-ups -----------------------------------------------------------------------------------------


def test_a_redemption_can_be_looked_up_by_order_id_and_by_reference(app):
    api = partner_api(app)
    redeemed = api.post(redeem_path(make_link(app)), json=redemption_body()).json
    by_id = api.get(f"/v1/apac/rewards/redemption/{redeemed['orderId']}")
    by_reference = api.get("/v1/apac/rewards/redemption", query_string={"transactionReferenceNumber": "HM-000123"})
    assert by_id.status_code == by_reference.status_code == 200
    assert by_id.json == by_reference.json
    body = by_id.json
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body.pop("createdAt"))
    assert body == {
        **redeemed,
        "transactionReferenceNumber": "HM-000123",
        "transactionAmount": "520.00",
        "pointsReversed": 0,
        "remainingReversiblePoints": 50_000,
        "reversals": [],
    }


def test_another_partners_redemption_is_not_found(app):
    redeemed = partner_api(app).post(redeem_path(make_link(app)), json=redemption_body()).json
    other = partner_api(app, OTHER_CLIENT_ID)
    by_id = other.get(f"/v1/apac/rewards/redemption/{redeemed['orderId']}")
    by_reference = other.get("/v1/apac/rewards/redemption?transactionReferenceNumber=HM-000123")
    assert (by_id.status_code, by_id.json["code"]) == (404, "redemptionNotFound")
    assert (by_reference.status_code, by_reference.json["code"]) == (404, "redemptionNotFound")


@pytest.mark.parametrize(
    "path", ["/v1/apac/rewards/redemption/RDM-UNKNOWN", "/v1/apac/rewards/redemption?transactionReferenceNumber=HM-9"]
)
def test_an_unknown_redemption_is_not_found(app, path):
    response = partner_api(app).get(path)
    assert (response.status_code, response.json["code"]) == (404, "redemptionNotFound")


@pytest.mark.parametrize(
    "query", ["", "?transactionReferenceNumber=", "?transactionReferenceNumber=%E8%A8%82%E5%96%AE", "?orderId=RDM-1"]
)
def test_a_look_up_without_a_valid_reference_is_an_invalid_request(app, query):
    response = partner_api(app).get("/v1/apac/rewards/redemption" + query)
    assert (response.status_code, response.json["code"]) == (400, "invalidRequest")


def test_a_redemption_can_be_looked_up_after_the_link_was_unlinked(app):
    api = partner_api(app)
    link = make_link(app)
    order_id = api.post(redeem_path(link), json=redemption_body()).json["orderId"]
    set_link_status(app, link, "UNLINKED")
    assert api.get(f"/v1/apac/rewards/redemption/{order_id}").status_code == 200


# --- The rules, called directly -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last4", "overrides", "error", "message"),
    [
        (HAPPY, {"currency_code": "USD"}, redemptions.CurrencyMismatch, "credits HKD, not USD"),
        (
            HAPPY,
            {"transaction_amount": Decimal("9.99"), "points": 1_000},
            redemptions.BelowMinimumTransactionAmount,
            "under 10.00 HKD",
        ),
        (HAPPY, {"points": 975}, redemptions.BelowMinimumPoints, "at least 1000 points"),
        (HAPPY, {"points": 50_010}, redemptions.InvalidPointsIncrement, "multiples of 25"),
        (
            HAPPY,
            {"points": 1_000_025, "transaction_amount": Decimal("5000")},
            redemptions.ExceedsMaximumPoints,
            "at most 1000000 points",
        ),
        (
            HAPPY,
            {"transaction_amount": Decimal("199.99")},
            redemptions.ExceedsMaximumAmount,
            "worth 200.00, more than the transaction amount 199.99",
        ),
        (LOW, {"points": 1_000}, redemptions.InsufficientPointBalance, "holds 800 points, fewer than the 1000"),
        (FROZEN, {}, redemptions.NotEligibleToRedeem, "ending 7404 is frozen"),
    ],
)
def test_redeem_raises_the_named_rule_and_writes_nothing(app, last4, overrides, error, message):
    link = make_link(app, last4)
    before = money_snapshot(app)
    with app.app_context(), pytest.raises(error, match=message):
        redemptions.redeem(partner_id(), link, order(**overrides), clock.now())
    assert money_snapshot(app) == before


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        ("PENDING_ACTIVATION", redemptions.InactiveLink, "PENDING_ACTIVATION, not ACTIVE"),
        ("LOCKED", redemptions.InactiveLink, "LOCKED, not ACTIVE"),
        ("UNLINKED", LinkNotFound, "RL-"),
    ],
)
def test_redeem_refuses_a_link_that_is_not_active(app, status, error, message):
    link = make_link(app, status=status)
    with app.app_context(), pytest.raises(error, match=message):
        redemptions.redeem(partner_id(), link, order(), clock.now())
    assert points_of(app) == 120_000


def test_redeem_raises_transaction_already_redeemed_for_a_changed_body(app):
    link = make_link(app)
    with app.app_context():
        redemptions.redeem(partner_id(), link, order(), clock.now())
        with pytest.raises(redemptions.TransactionAlreadyRedeemed, match="HM-000123 was already redeemed"):
            redemptions.redeem(partner_id(), link, order(points=25_000), clock.now())
    assert points_of(app) == 70_000


def test_redeem_returns_a_replay_for_the_same_order(app):
    link = make_link(app)
    with app.app_context():
        first = redemptions.redeem(partner_id(), link, order(), clock.now())
        again = redemptions.redeem(partner_id(), link, order(transaction_amount=Decimal("520")), clock.now())
    assert (first.replayed, again.replayed) == (False, True)
    assert again.body == first.body


@pytest.mark.parametrize(
    ("points", "rate", "cents"),
    [(50_000, "0.004", 20_000), (25, "0.004", 10), (12_340, "0.005", 6_170), (1_000_000, "0.004", 400_000)],
)
def test_credit_cents_is_exact(points, rate, cents):
    assert redemptions.credit_cents(points, rate) == cents


def test_credit_cents_refuses_a_fraction_of_a_cent():
    with pytest.raises(redemptions.InvalidPointsIncrement, match="not a whole number of cents"):
        redemptions.credit_cents(1, "0.004")


def test_the_fingerprint_is_the_sha256_of_the_canonical_request():
    canonical = (
        '{"currencyCode":"HKD","pointsToRedeem":50000,"rewardLinkCode":"RL-x","transactionAmount":"520.00",'
        '"transactionDescription":"Harbour Mall order HM-000123","transactionReferenceNumber":"HM-000123"}'
    )
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert redemptions.redemption_fingerprint("RL-x", order()) == expected
    assert redemptions.redemption_fingerprint("RL-x", order(transaction_amount=Decimal("520"))) == expected
    assert redemptions.redemption_fingerprint("RL-y", order()) != expected


@pytest.mark.parametrize(
    ("points", "credit", "balance", "posting_date"),
    [(50_000, 20_000, 0, date(2026, 1, 5)), (1_000, 5, 123_456_789, date(2026, 12, 31)), (25, 1, 7, date(1999, 2, 3))],
)
def test_the_hand_written_redemption_body_is_the_models_json_byte_for_byte(points, credit, balance, posting_date):
    """The body built under the write lock is what ``json.dumps`` of the documented model wrote (and stored)."""
    model = schemas.RedemptionResponse(
        order_id="RDM-0123456789ABCDEF0123",
        status="COMPLETED",
        points_redeemed=points,
        redeemed_amount=cents_to_amount(credit),
        available_point_balance=balance,
        credit_posting_date=posting_date,
    )
    body = redemptions._redemption_body("RDM-0123456789ABCDEF0123", points, credit, balance, posting_date)
    assert body == json.dumps(schemas.dump(model))


def test_a_stored_redemption_body_is_the_models_json_byte_for_byte(app):
    link = make_link(app)
    with app.app_context():
        outcome = redemptions.redeem(partner_id(), link, order(), clock.now())
        stored = db.session.scalar(sa.select(Redemption.response_body))
        answer = json.loads(outcome.body)
        model = schemas.RedemptionResponse.model_validate_json(outcome.body)
    assert stored == outcome.body == json.dumps(schemas.dump(model))
    assert list(answer) == ["orderId", "status", "pointsRedeemed", "redeemedAmount", "availablePointBalance"] + [
        "creditPostingDate"
    ]
