"""The card gateway: payments, declines, idempotency, refunds, look-ups and their effect on card statements."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from issuer_sandbox import clock, payments, request_log, statement
from issuer_sandbox.extensions import db
from issuer_sandbox.models import (
    Card,
    Cardholder,
    CardStatementLine,
    PartnerClient,
    Payment,
    Refund,
    RequestLogEntry,
)
from issuer_sandbox.payments import CardDetails

from .conftest import PartnerApi, close_app, make_app

PAYMENTS = "/gateway/v1/payments"
HAPPY = "4966 0100 0000 8741"
BELOW_MINIMUM = "4966 0100 0000 0102"
DEBIT = "4966 0300 0000 4300"
FROZEN = "4966 0100 0000 7404"
LOW_LIMIT = "4966 0100 0000 5051"  # credit limit HK$100
OTHER_BANK = "4242 4242 4242 4242"
UNISSUED_SUMMIT = "4966 0100 0000 9996"  # passes Luhn, but the bank never issued it


def future_year(app) -> int:
    with app.app_context():
        return clock.now().year + 3


def card(app, number: str = HAPPY, **overrides) -> dict:
    return {
        "number": number,
        "expiryMonth": 12,
        "expiryYear": future_year(app),
        "cvc": "123",
        "holderName": "CHAN TAI MAN",
        **overrides,
    }


def payment_body(app, number: str = HAPPY, amount: int = 52000, reference: str = "HM-000123", **card_fields) -> dict:
    return {
        "amount": amount,
        "currency": "HKD",
        "card": card(app, number, **card_fields),
        "merchantReference": reference,
    }


def pay(api: PartnerApi, body: dict, key: str | None = None):
    return api.post(PAYMENTS, json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def refund(api: PartnerApi, payment_id: str, amount: int, key: str | None = None):
    return api.post(
        f"{PAYMENTS}/{payment_id}/refunds",
        json={"amount": amount},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def card_state(app, number: str) -> tuple[int, list[tuple[str, int, str]]]:
    """The card's outstanding balance and its statement lines (kind, amount, description)."""
    with app.app_context():
        found = db.session.scalar(sa.select(Card).where(Card.number == number.replace(" ", "")))
        lines = [(line.kind, line.amount_cents, line.description) for line in statement.lines_for(found)]
        return found.outstanding_cents, lines


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def add_partner(app, client_id: str = "kowloon-books", secret: str = "kowloon-secret") -> None:
    with app.app_context():
        db.session.add(
            PartnerClient(
                client_id=client_id,
                secret_hash=generate_password_hash(secret),
                merchant_name="Kowloon Books",
                created_at=clock.now(),
            )
        )
        db.session.commit()


@pytest.fixture
def other_api(app, client) -> PartnerApi:
    """A second merchant with its own credentials."""
    add_partner(app)
    return PartnerApi(client, "kowloon-books", "kowloon-secret")


# --- Card rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4966010000008741", True), ("4242424242424242", True), ("4966010000008742", False), ("", False), ("42a2", False)],
)
def test_luhn_check_accepts_only_numbers_with_a_correct_check_digit(number, valid):
    assert payments.luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "VISA"),
        ("5105105105105100", "MASTERCARD"),
        ("5555555555554444", "MASTERCARD"),
        ("378282246310005", "AMEX"),
        ("341111111111111", "AMEX"),
        ("6011111111111117", "UNKNOWN"),
        ("5611111111111111", "UNKNOWN"),
    ],
)
def test_brand_follows_the_leading_digits(number, brand):
    assert payments.brand_of(number) == brand


def test_card_details_never_show_the_number_or_cvc_in_their_repr():
    details = CardDetails("4966010000008741", 12, 2030, "987", "CHAN TAI MAN")
    assert "4966010000008741" not in repr(details)
    assert "987" not in repr(details)


# --- Payments -------------------------------------------------------------------------------------


def test_happy_card_payment_is_captured_and_posted_to_the_card_statement(app, api):
    response = pay(api, payment_body(app))

    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "CAPTURED"
    assert body["declineCode"] is None
    assert body["paymentId"].startswith("PAY-")
    assert (body["amount"], body["currency"], body["merchantReference"]) == (52000, "HKD", "HM-000123")
    assert body["card"] == {"last4": "8741", "brand": "VISA", "issuedBySummit": True, "pointsEligible": True}
    assert response.headers["Location"] == f"{PAYMENTS}/{body['paymentId']}"
    assert "Idempotent-Replayed" not in response.headers
    assert card_state(app, HAPPY) == (52000, [("PURCHASE", 52000, "Harbour Mall HM-000123")])


def test_payment_stores_neither_the_card_number_nor_the_cvc(app, api):
    pay(api, payment_body(app, cvc="987"))

    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        # Leave out the random and time-based values, where the digits 987 could turn up by chance.
        random_values = (
            payment.payment_id,
            payment.request_fingerprint,
            json.loads(payment.response_body)["createdAt"],
        )
        stored = " ".join(
            str(getattr(payment, column.key)) for column in Payment.__table__.columns if column.key != "created_at"
        )
        assert payment.card_id is not None
        assert (payment.last4, payment.brand) == ("8741", "VISA")
    for value in random_values:
        stored = stored.replace(value, "")
    assert "4966010000008741" not in stored
    assert "4966 0100" not in stored
    assert "987" not in stored


def test_gateway_needs_only_the_bearer_token(app, client, api):
    response = client.post(
        PAYMENTS,
        json=payment_body(app),
        headers={"Authorization": f"Bearer {api.token()}", "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 201
    assert response.json["status"] == "CAPTURED"


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_gateway_refuses_calls_without_a_valid_bearer_token(app, client, authorization):
    headers = {"Idempotency-Key": "k-1"} | ({"Authorization": authorization} if authorization else {})
    response = client.post(PAYMENTS, json=payment_body(app), headers=headers)

    assert response.status_code == 401
    assert response.json["code"] == "invalidToken"
    assert count(app, Payment) == 0


def test_another_banks_card_is_approved_but_not_points_eligible(app, api):
    response = pay(api, payment_body(app, OTHER_BANK, holderName="ANY NAME"))

    assert response.status_code == 201
    assert response.json["status"] == "CAPTURED"
    assert response.json["card"] == {"last4": "4242", "brand": "VISA", "issuedBySummit": False, "pointsEligible": False}
    assert count(app, CardStatementLine) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(Payment.card_id)) is None


@pytest.mark.parametrize(
    ("number", "brand"),
    [("5555 5555 5555 4444", "MASTERCARD"), ("3782 822463 10005", "AMEX"), ("6011111111111117", "UNKNOWN")],
)
def test_other_schemes_are_approved_with_their_brand(app, api, number, brand):
    response = pay(api, payment_body(app, number))

    assert response.json["status"] == "CAPTURED"
    assert response.json["card"]["brand"] == brand
    assert response.json["card"]["issuedBySummit"] is False


def test_summit_debit_card_pays_without_a_points_offer(app, api):
    response = pay(api, payment_body(app, DEBIT))

    assert response.json["status"] == "CAPTURED"
    assert response.json["card"] == {"last4": "4300", "brand": "VISA", "issuedBySummit": True, "pointsEligible": False}
    assert card_state(app, DEBIT)[0] == 52000


def test_card_number_is_accepted_with_or_without_spaces(app, api):
    response = pay(api, payment_body(app, HAPPY.replace(" ", "")))

    assert response.json["status"] == "CAPTURED"
    assert response.json["card"]["issuedBySummit"] is True


def test_a_two_digit_expiry_year_means_this_century(app, api):
    response = pay(api, payment_body(app, expiryYear=str(future_year(app) % 100), expiryMonth="01"))

    assert response.json["status"] == "CAPTURED"


@pytest.mark.parametrize(
    ("number", "card_fields", "amount", "decline_code", "last4"),
    [
        ("4966 0100 0000 8742", {}, 52000, "invalidCardNumber", "8742"),  # Luhn fails
        ("4242 4242 4242 4241", {}, 52000, "invalidCardNumber", "4241"),
        (UNISSUED_SUMMIT, {}, 52000, "invalidCardNumber", "9996"),
        ("4242", {}, 52000, "invalidCardNumber", "4242"),  # too short for a card
        (HAPPY, {"expiryYear": 2020, "expiryMonth": 1}, 52000, "expiredCard", "8741"),
        (OTHER_BANK, {"expiryYear": 2020}, 52000, "expiredCard", "4242"),
        (HAPPY, {"cvc": "12"}, 52000, "incorrectCvc", "8741"),
        (HAPPY, {"cvc": "1234"}, 52000, "incorrectCvc", "8741"),
        (HAPPY, {"cvc": "12a"}, 52000, "incorrectCvc", "8741"),
        (OTHER_BANK, {"cvc": ""}, 52000, "incorrectCvc", "4242"),
        (FROZEN, {}, 52000, "cardFrozen", "7404"),
        (FROZEN, {}, 100, "cardFrozen", "7404"),
        (LOW_LIMIT, {}, 10001, "insufficientCredit", "5051"),
        (HAPPY, {}, 5_000_001, "insufficientCredit", "8741"),
    ],
)
def test_declined_payment_is_stored_without_charging_the_card(
    app, api, number, card_fields, amount, decline_code, last4
):
    response = pay(api, payment_body(app, number, amount=amount, **card_fields))

    assert response.status_code == 201
    assert response.json["status"] == "DECLINED"
    assert response.json["declineCode"] == decline_code
    assert response.json["card"]["last4"] == last4
    assert count(app, CardStatementLine) == 0
    with app.app_context():
        stored = db.session.scalar(sa.select(Payment))
        assert (stored.status, stored.decline_code, stored.last4) == ("DECLINED", decline_code, last4)
        assert db.session.scalar(sa.select(sa.func.sum(Card.outstanding_cents))) == 0


def test_frozen_card_is_reported_as_summit_but_not_points_eligible(app, api):
    response = pay(api, payment_body(app, FROZEN))

    assert response.json["card"] == {"last4": "7404", "brand": "VISA", "issuedBySummit": True, "pointsEligible": False}


def test_payment_up_to_the_credit_limit_is_captured(app, api):
    assert pay(api, payment_body(app, LOW_LIMIT, amount=10000)).json["status"] == "CAPTURED"

    assert card_state(app, LOW_LIMIT)[0] == 10000


def test_credit_used_by_earlier_purchases_counts_against_the_limit(app, api):
    assert pay(api, payment_body(app, LOW_LIMIT, amount=6000, reference="HM-1")).json["status"] == "CAPTURED"

    second = pay(api, payment_body(app, LOW_LIMIT, amount=5000, reference="HM-2"))

    assert second.json["declineCode"] == "insufficientCredit"
    assert card_state(app, LOW_LIMIT)[0] == 6000


def test_a_card_expiring_this_month_is_still_accepted(app, api):
    with app.app_context():
        now = clock.now()
    response = pay(api, payment_body(app, expiryYear=now.year, expiryMonth=now.month))

    assert response.json["status"] == "CAPTURED"


def test_expiry_follows_the_sandbox_clock(app, api):
    with app.app_context():
        now = clock.now()
        expiry = (now.year, now.month)
        clock.advance(int(timedelta(days=62).total_seconds()))
        db.session.commit()
    response = pay(api, payment_body(app, expiryYear=expiry[0], expiryMonth=expiry[1]))

    assert response.json["declineCode"] == "expiredCard"


# --- Bad input ------------------------------------------------------------------------------------


def _without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


BAD_PAYMENTS = [
    (lambda body: {**body, "amount": "520.00"}, "amount"),
    (lambda body: {**body, "amount": 520.5}, "amount"),
    (lambda body: {**body, "amount": 0}, "amount must be positive"),
    (lambda body: {**body, "amount": -100}, "amount must be positive"),
    (lambda body: {**body, "amount": True}, "amount"),
    (lambda body: {**body, "amount": 10**13}, "amount is too large"),
    (lambda body: _without(body, "amount"), "amount"),
    (lambda body: {**body, "currency": "USD"}, "currency"),
    (lambda body: _without(body, "currency"), "currency"),
    (lambda body: {**body, "card": "4966010000008741"}, "card"),
    (lambda body: _without(body, "card"), "card"),
    (lambda body: {**body, "card": _without(body["card"], "number")}, "number"),
    (lambda body: {**body, "card": {**body["card"], "number": "4966-0100-0000-8741"}}, "digits"),
    (lambda body: {**body, "card": {**body["card"], "number": 4966010000008741}}, "number"),
    (lambda body: {**body, "card": {**body["card"], "number": "4" * 31}}, "number"),
    (lambda body: {**body, "card": {**body["card"], "expiryMonth": 13}}, "expiryMonth"),
    (lambda body: {**body, "card": {**body["card"], "expiryMonth": 0}}, "expiryMonth"),
    (lambda body: {**body, "card": {**body["card"], "expiryMonth": "ab"}}, "expiryMonth"),
    (lambda body: {**body, "card": _without(body["card"], "expiryYear")}, "expiryYear"),
    (lambda body: {**body, "card": {**body["card"], "expiryYear": 3000}}, "expiryYear"),
    (lambda body: {**body, "card": {**body["card"], "cvc": 123}}, "cvc"),
    (lambda body: {**body, "card": _without(body["card"], "cvc")}, "cvc"),
    (lambda body: {**body, "card": {**body["card"], "holderName": 7}}, "holderName"),
    (lambda body: {**body, "card": {**body["card"], "pin": "1234"}}, "Unknown field"),
    (lambda body: {**body, "tip": 100}, "Unknown field"),
    (lambda body: _without(body, "merchantReference"), "merchantReference"),
    (lambda body: {**body, "merchantReference": "HM-訂單"}, "merchantReference"),
    (lambda body: {**body, "merchantReference": "H" * 65}, "merchantReference"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_PAYMENTS)
def test_bad_payment_input_is_refused_and_charges_nothing(app, api, mutate, message):
    response = pay(api, mutate(payment_body(app)))

    assert response.status_code == 400
    assert response.json["type"] == "invalid"
    assert response.json["code"] == "invalidRequest"
    assert message in response.json["details"]
    assert count(app, Payment) == 0
    assert count(app, CardStatementLine) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"amount": 1e309}', "application/json"),
        ("[1, 2]", "application/json"),
        ('{"amount": NaN}', "application/json"),
        ("amount=52000", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_payment_bodies_are_refused(app, api, data, content_type):
    response = api.post(PAYMENTS, data=data, headers={"Idempotency-Key": "k-1", "Content-Type": content_type})

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    assert count(app, Payment) == 0


@pytest.mark.parametrize("key", [None, "", "k" * 81, "has space", "slash/key", "semi;colon"])
def test_payment_needs_a_well_formed_idempotency_key(app, api, key):
    headers = {} if key is None else {"Idempotency-Key": key}
    response = api.post(PAYMENTS, json=payment_body(app), headers=headers)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    assert "Idempotency-Key" in response.json["details"]
    assert count(app, Payment) == 0


def test_longest_allowed_idempotency_key_is_accepted(app, api):
    assert pay(api, payment_body(app), key="K._-" * 20).status_code == 201


def test_oversized_payment_body_is_refused(app, api):
    body = payment_body(app)
    body["card"]["holderName"] = "X" * 70_000
    response = pay(api, body)

    assert response.status_code == 413
    assert count(app, Payment) == 0


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_wrong_methods_on_payments_answer_json_405(client, method):
    response = getattr(client, method)(PAYMENTS)

    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"


# --- Idempotency ----------------------------------------------------------------------------------


def test_repeating_a_payment_replays_the_first_response_and_charges_once(app, api):
    first = pay(api, payment_body(app), key="order-123-pay")
    second = pay(api, payment_body(app), key="order-123-pay")

    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_data() == first.get_data()
    assert count(app, Payment) == 1
    assert card_state(app, HAPPY)[0] == 52000


def test_a_repeat_with_the_number_spaced_differently_is_the_same_request(app, api):
    first = pay(api, payment_body(app, HAPPY), key="k-1")
    second = pay(api, payment_body(app, HAPPY.replace(" ", "")), key="k-1")

    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json == first.json


def test_repeating_a_declined_payment_replays_the_decline(app, api):
    first = pay(api, payment_body(app, FROZEN), key="k-1")
    second = pay(api, payment_body(app, FROZEN), key="k-1")

    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json == first.json
    assert count(app, Payment) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 52001},
        {"merchantReference": "HM-000124"},
        {"number": OTHER_BANK},
        {"cvc": "124"},
        {"holderName": "SOMEONE ELSE"},
    ],
)
def test_reusing_an_idempotency_key_with_another_body_is_a_conflict(app, api, change):
    pay(api, payment_body(app), key="k-1")
    card_fields = {k: v for k, v in change.items() if k in ("number", "cvc", "holderName")}
    body = payment_body(
        app,
        card_fields.pop("number", HAPPY),
        amount=change.get("amount", 52000),
        reference=change.get("merchantReference", "HM-000123"),
        **card_fields,
    )

    response = pay(api, body, key="k-1")

    assert response.status_code == 409
    assert response.json["code"] == "idempotencyKeyReused"
    assert response.json["type"] == "error"
    assert count(app, Payment) == 1
    assert card_state(app, HAPPY)[0] == 52000


def test_idempotency_keys_belong_to_one_merchant(app, api, other_api):
    first = pay(api, payment_body(app), key="shared-key")
    second = pay(other_api, payment_body(app), key="shared-key")

    assert "Idempotent-Replayed" not in second.headers
    assert second.json["paymentId"] != first.json["paymentId"]
    assert card_state(app, HAPPY)[0] == 104000
    assert card_state(app, HAPPY)[1][1][2] == "Kowloon Books HM-000123"


def test_concurrent_identical_payments_charge_once(app, api):
    body = payment_body(app)
    headers = api.headers(**{"Idempotency-Key": "concurrent-1"})
    responses = []

    def send() -> None:
        responses.append(app.test_client().post(PAYMENTS, json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json["paymentId"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 7
    assert count(app, Payment) == 1
    assert card_state(app, HAPPY)[0] == 52000


def test_a_twin_that_commits_between_look_up_and_insert_is_replayed(app, monkeypatch):
    """The race PostgreSQL allows: both requests miss the look-up; the loser hits the unique key and replays."""
    with app.app_context():
        partner = db.session.scalar(sa.select(PartnerClient))
        details = CardDetails("4966010000008741", 12, clock.now().year + 1, "123")
        now = clock.now()
        first = payments.create_payment(partner, "race-1", 52000, "HKD", details, "HM-1", now, b"key")

        real_replay = payments._replay_payment
        calls = []

        def miss_once(*args):
            calls.append(args)
            return None if len(calls) == 1 else real_replay(*args)

        monkeypatch.setattr(payments, "_replay_payment", miss_once)
        second = payments.create_payment(partner, "race-1", 52000, "HKD", details, "HM-1", now, b"key")

    assert second.replayed is True
    assert second.body == first.body
    assert count(app, Payment) == 1
    assert card_state(app, HAPPY) == (52000, [("PURCHASE", 52000, "Harbour Mall HM-1")])


def test_a_raced_twin_with_another_body_is_still_a_conflict(app, monkeypatch):
    with app.app_context():
        partner = db.session.scalar(sa.select(PartnerClient))
        details = CardDetails("4966010000008741", 12, clock.now().year + 1, "123")
        payments.create_payment(partner, "race-1", 52000, "HKD", details, "HM-1", clock.now(), b"key")
        real_replay = payments._replay_payment
        calls = []

        def miss_once(*args):
            calls.append(args)
            return None if len(calls) == 1 else real_replay(*args)

        monkeypatch.setattr(payments, "_replay_payment", miss_once)
        with pytest.raises(payments.IdempotencyKeyReused, match="race-1"):
            payments.create_payment(partner, "race-1", 100, "HKD", details, "HM-1", clock.now(), b"key")

    assert card_state(app, HAPPY)[0] == 52000


def _new_card(limit_cents: int) -> str:
    """A fresh Summit card with its own credit limit (unique, so the test can share a database)."""
    body = "4966" + "".join(secrets.choice("0123456789") for _ in range(11))
    number = next(body + digit for digit in "0123456789" if payments.luhn_valid(body + digit))
    holder = Cardholder(name="RACE TEST", phone="99999999", created_at=clock.now())
    db.session.add(holder)
    db.session.flush()
    db.session.add(
        Card(
            cardholder_id=holder.id,
            number=number,
            last4=number[-4:],
            credit_limit_cents=limit_cents,
            outstanding_cents=0,
            created_at=clock.now(),
        )
    )
    db.session.commit()
    return number


def _concurrent_payments_never_exceed_the_credit_limit(app) -> None:
    with app.app_context():
        number = _new_card(10_000)
    api = PartnerApi(app.test_client())
    headers = api.headers()
    year = future_year(app)
    results: list[str] = []

    def send(index: int) -> None:
        body = {
            "amount": 2000,
            "currency": "HKD",
            "card": {"number": number, "expiryMonth": 12, "expiryYear": year, "cvc": "123"},
            "merchantReference": f"RACE-{index}",
        }
        response = app.test_client().post(
            PAYMENTS, json=body, headers={**headers, "Idempotency-Key": f"race-{number}-{index}"}
        )
        results.append(response.json.get("status") or response.json.get("code"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["CAPTURED"] * 5 + ["DECLINED"] * 5
    assert card_state(app, number)[0] == 10_000


def test_concurrent_payments_never_exceed_the_credit_limit(app):
    _concurrent_payments_never_exceed_the_credit_limit(app)


@pytest.mark.postgres
def test_concurrent_payments_never_exceed_the_credit_limit_on_postgresql(fresh_postgres_url):
    app = make_app(fresh_postgres_url)
    try:
        _concurrent_payments_never_exceed_the_credit_limit(app)
    finally:
        close_app(app)


# --- Look-ups -------------------------------------------------------------------------------------


def test_payment_look_up_shows_status_and_refunds(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]
    refund_id = refund(api, payment_id, 12000).json["refundId"]

    response = api.get(f"{PAYMENTS}/{payment_id}")

    assert response.status_code == 200
    body = response.json
    assert body["paymentId"] == payment_id
    assert body["status"] == "PARTIALLY_REFUNDED"
    assert (body["amount"], body["refundedAmount"], body["remainingRefundableAmount"]) == (52000, 12000, 40000)
    assert body["card"]["last4"] == "8741"
    assert [(r["refundId"], r["status"], r["amount"]) for r in body["refunds"]] == [(refund_id, "SUCCEEDED", 12000)]


def test_payments_are_listed_by_merchant_reference(app, api):
    declined = pay(api, payment_body(app, FROZEN)).json["paymentId"]
    captured = pay(api, payment_body(app)).json["paymentId"]
    pay(api, payment_body(app, reference="HM-999"))

    response = api.get(f"{PAYMENTS}?merchantReference=HM-000123")

    assert response.status_code == 200
    assert [(p["paymentId"], p["status"]) for p in response.json["payments"]] == [
        (declined, "DECLINED"),
        (captured, "CAPTURED"),
    ]
    assert api.get(f"{PAYMENTS}?merchantReference=HM-404").json == {"payments": []}


@pytest.mark.parametrize("query", ["", "?merchantReference=", "?merchantReference=a%20b"])
def test_listing_payments_needs_a_merchant_reference(api, query):
    response = api.get(f"{PAYMENTS}{query}")

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"


def test_unknown_payment_is_not_found(api):
    response = api.get(f"{PAYMENTS}/PAY-NOPE")

    assert response.status_code == 404
    assert response.json["code"] == "paymentNotFound"


def test_another_merchants_payment_is_invisible(app, api, other_api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]

    assert other_api.get(f"{PAYMENTS}/{payment_id}").json["code"] == "paymentNotFound"
    assert other_api.get(f"{PAYMENTS}?merchantReference=HM-000123").json == {"payments": []}
    response = refund(other_api, payment_id, 100)
    assert (response.status_code, response.json["code"]) == (404, "paymentNotFound")
    assert card_state(app, HAPPY)[0] == 52000


# --- Refunds --------------------------------------------------------------------------------------


def test_partial_then_full_refunds_move_the_payment_and_the_statement(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]

    first = refund(api, payment_id, 12000)

    assert first.status_code == 201
    assert first.json["status"] == "SUCCEEDED"
    assert first.json["refundId"].startswith("RFD-")
    assert (first.json["amount"], first.json["paymentId"]) == (12000, payment_id)
    assert (first.json["refundedAmount"], first.json["remainingRefundableAmount"]) == (12000, 40000)
    assert card_state(app, HAPPY) == (
        40000,
        [("PURCHASE", 52000, "Harbour Mall HM-000123"), ("REFUND", -12000, "Harbour Mall HM-000123 refund")],
    )

    second = refund(api, payment_id, 40000)

    assert (second.json["refundedAmount"], second.json["remainingRefundableAmount"]) == (52000, 0)
    assert card_state(app, HAPPY)[0] == 0
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert (payment.status, payment.refunded_cents) == ("REFUNDED", 52000)


def test_a_partial_refund_marks_the_payment_partially_refunded(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]
    refund(api, payment_id, 1)

    with app.app_context():
        assert db.session.scalar(sa.select(Payment.status)) == "PARTIALLY_REFUNDED"


def test_refund_larger_than_the_payment_is_refused(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]

    response = refund(api, payment_id, 52001)

    assert response.status_code == 422
    assert response.json["code"] == "exceedsRefundableAmount"
    assert response.json["remainingRefundableAmount"] == 52000
    assert count(app, Refund) == 0
    assert card_state(app, HAPPY)[0] == 52000


def test_nothing_more_can_be_refunded_after_a_full_refund(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]
    refund(api, payment_id, 30000)
    refund(api, payment_id, 22000)

    response = refund(api, payment_id, 1)

    assert (response.status_code, response.json["code"]) == (422, "exceedsRefundableAmount")
    assert response.json["remainingRefundableAmount"] == 0
    assert card_state(app, HAPPY)[0] == 0


def test_a_declined_payment_cannot_be_refunded(app, api):
    payment_id = pay(api, payment_body(app, FROZEN)).json["paymentId"]

    response = refund(api, payment_id, 100)

    assert response.status_code == 422
    assert response.json["code"] == "paymentNotRefundable"
    assert count(app, Refund) == 0


def test_refunding_an_unknown_payment_is_not_found(app, api):
    response = refund(api, "PAY-NOPE", 100)

    assert (response.status_code, response.json["code"]) == (404, "paymentNotFound")


def test_refund_of_another_banks_card_posts_no_statement_line(app, api):
    payment_id = pay(api, payment_body(app, OTHER_BANK)).json["paymentId"]

    response = refund(api, payment_id, 52000)

    assert response.json["remainingRefundableAmount"] == 0
    assert count(app, CardStatementLine) == 0


def test_repeating_a_refund_replays_it_and_refunds_once(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]
    first = refund(api, payment_id, 12000, key="refund-1")

    second = refund(api, payment_id, 12000, key="refund-1")

    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_data() == first.get_data()
    assert count(app, Refund) == 1
    assert card_state(app, HAPPY)[0] == 40000


def test_reusing_a_refund_key_with_another_amount_is_a_conflict(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]
    refund(api, payment_id, 12000, key="refund-1")

    response = refund(api, payment_id, 13000, key="refund-1")

    assert (response.status_code, response.json["code"]) == (409, "idempotencyKeyReused")
    assert card_state(app, HAPPY)[0] == 40000


def test_refund_keys_are_scoped_to_their_payment(app, api):
    first_payment = pay(api, payment_body(app, reference="HM-1")).json["paymentId"]
    second_payment = pay(api, payment_body(app, reference="HM-2")).json["paymentId"]
    refund(api, first_payment, 1000, key="refund-1")

    response = refund(api, second_payment, 1000, key="refund-1")

    assert "Idempotent-Replayed" not in response.headers
    assert response.json["paymentId"] == second_payment
    assert count(app, Refund) == 2


def test_a_replayed_refund_is_still_replayed_after_the_payment_is_used_up(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]
    first = refund(api, payment_id, 52000, key="refund-1")

    again = refund(api, payment_id, 52000, key="refund-1")

    assert again.status_code == 201
    assert again.json == first.json


def test_concurrent_refunds_never_exceed_the_captured_amount(app, api):
    payment_id = pay(api, payment_body(app, amount=10000)).json["paymentId"]
    headers = api.headers()
    results: list[int] = []

    def send(index: int) -> None:
        response = app.test_client().post(
            f"{PAYMENTS}/{payment_id}/refunds",
            json={"amount": 3000},
            headers={**headers, "Idempotency-Key": f"refund-{index}"},
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [201] * 3 + [422] * 3
    assert card_state(app, HAPPY)[0] == 1000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "amount"),
        ({"amount": 0}, "positive"),
        ({"amount": -5}, "positive"),
        ({"amount": "100"}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": 100, "reason": "x"}, "Unknown field"),
    ],
)
def test_bad_refund_input_is_refused_and_refunds_nothing(app, api, body, message):
    payment_id = pay(api, payment_body(app)).json["paymentId"]

    response = api.post(f"{PAYMENTS}/{payment_id}/refunds", json=body, headers={"Idempotency-Key": "refund-1"})

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    assert message in response.json["details"]
    assert count(app, Refund) == 0
    assert card_state(app, HAPPY)[0] == 52000


def test_refund_needs_an_idempotency_key(app, api):
    payment_id = pay(api, payment_body(app)).json["paymentId"]

    response = api.post(f"{PAYMENTS}/{payment_id}/refunds", json={"amount": 100})

    assert (response.status_code, response.json["code"]) == (400, "invalidRequest")
    assert count(app, Refund) == 0


def test_stored_payment_response_is_the_replayed_json(app, api):
    body = pay(api, payment_body(app), key="k-1").json

    with app.app_context():
        stored = db.session.scalar(sa.select(Payment.response_body))
    assert json.loads(stored) == body


def test_the_request_log_never_holds_the_card_number_or_cvc(app, api):
    pay(api, payment_body(app, cvc="987"), key="k-1")

    request_log.writer(app).flush()
    with app.app_context():
        entries = db.session.scalars(sa.select(RequestLogEntry).where(RequestLogEntry.path == PAYMENTS)).all()
        logged = " ".join(f"{entry.request_body} {entry.response_body}" for entry in entries)
    assert entries
    assert "4966 0100 0000 8741" not in logged
    assert "4966010000008741" not in logged
    assert '"987"' not in logged  # quoted: a payment id may contain the digits by chance
