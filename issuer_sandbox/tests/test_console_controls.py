"""The console's controls change what they should, and bad input gets a clear error and changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, controls, ledger
from issuer_sandbox.extensions import db
from issuer_sandbox.models import Card, FaultRule, LedgerEntry

from .console_support import enrol, sign_in


@pytest.fixture
def console(client):
    assert sign_in(client).status_code == 302
    return client


def balance(app, last4: str) -> int:
    with app.app_context():
        return ledger.balance_of(controls.find_card(last4))


def status(app, last4: str) -> str:
    with app.app_context():
        return controls.find_card(last4).status


def entries(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))


def faults(app) -> list[FaultRule]:
    with app.app_context():
        return controls.list_faults()


# --- Freeze and unfreeze ----------------------------------------------------------------------------


def test_freeze_card_on_the_card_page_freezes_it_and_the_gateway_declines_it(app, api, console):
    response = console.post("/cards/8741/freeze", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Card ending 8741 is frozen." in html
    assert 'Unfreeze card<span class="visually-hidden"> ending 8741</span>' in html
    assert status(app, "8741") == "FROZEN"
    declined = api.post(
        "/gateway/v1/payments",
        json={
            "amount": 1000,
            "currency": "HKD",
            "card": {"number": "4966010000008741", "expiryMonth": 12, "expiryYear": 2035, "cvc": "123"},
            "merchantReference": "HM-FROZEN",
        },
        headers={"Idempotency-Key": "HM-FROZEN-1"},
    )
    assert declined.json["declineCode"] == "cardFrozen"


def test_unfreeze_card_makes_the_frozen_test_card_usable(app, console):
    response = console.post("/cards/7404/unfreeze")
    assert response.headers["Location"] == "/cards/7404"
    assert status(app, "7404") == "ACTIVE"


def test_freezing_from_the_controls_page_returns_to_the_controls_page(app, console):
    response = console.post("/cards/8741/freeze?back=controls")
    assert response.headers["Location"].startswith("/controls")
    assert status(app, "8741") == "FROZEN"


def test_freezing_an_unknown_card_is_a_404_and_changes_nothing(console):
    assert console.post("/cards/0000/freeze").status_code == 404


# --- Adjust points ----------------------------------------------------------------------------------


def test_adjust_points_adds_a_ledger_entry_with_the_reason(app, console):
    response = console.post(
        "/cards/8741/points", data={"delta": "2500", "reason": "Birthday bonus"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Adjusted card ending 8741 by +2,500 points." in html
    assert "Adjustment: Birthday bonus" in html and "122,500" in html
    assert balance(app, "8741") == 122_500
    with app.app_context():
        assert ledger.check_ledger() == []


def test_adjust_points_can_remove_points(app, console):
    console.post("/cards/8741/points", data={"delta": "-20000", "reason": "Clawback"})
    assert balance(app, "8741") == 100_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"delta": "", "reason": "Bonus"}, "Enter a whole number of points"),
        ({"delta": "12.5", "reason": "Bonus"}, "Enter a whole number of points"),
        ({"delta": "abc", "reason": "Bonus"}, "Enter a whole number of points"),
        ({"delta": "0", "reason": "Bonus"}, "must not be zero"),
        ({"delta": "500", "reason": ""}, "Give a reason"),
        ({"delta": "500", "reason": "x" * 151}, "150 characters"),
        ({"delta": "999999999999", "reason": "Huge"}, "The points change must be between"),
    ],
)
def test_bad_adjustments_show_a_clear_error_and_change_nothing(app, console, data, message):
    before = entries(app)
    response = console.post("/cards/8741/points", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and "The points were not adjusted" in html
    assert balance(app, "8741") == 120_000 and entries(app) == before


def test_removing_more_points_than_the_card_holds_is_refused_and_changes_nothing(app, console):
    before = entries(app)
    response = console.post("/cards/0102/points", data={"delta": "-801", "reason": "Too much"})
    assert response.status_code == 422
    assert "does not hold 801 points" in response.get_data(as_text=True)
    assert balance(app, "0102") == 800 and entries(app) == before


# --- New test cardholder ------------------------------------------------------------------------------


def test_a_new_test_cardholder_can_be_created_and_enrolled(app, api, console):
    response = console.post(
        "/cardholders/new",
        data={
            "name": "Tam Wai Kei",
            "mobile": "9876 5432",
            "programme": "REWARDS",
            "points": "45000",
            "credit_limit": "20,000.50",
        },
    )
    assert response.status_code == 302
    last4 = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        card = controls.find_card(last4)
        assert card.cardholder.name == "TAM WAI KEI" and card.credit_limit_cents == 2_000_050
        number = card.number
    assert balance(app, last4) == 45_000
    page = console.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Created TAM WAI KEI with card {number[:4]} {number[4:8]}" in page
    enrol(api, last4=last4, phone="98765432", customer="C-NEW")
    assert "card ending " + last4 in console.get("/phone?phone=98765432").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter the cardholder"),
        ("name", "R2-D2", "The name must be"),
        ("mobile", "1234", "8 digits starting with 4 to 9"),
        ("mobile", "", "Enter an 8-digit"),
        ("points", "-5", "Opening points must be between 0 and"),
        ("points", "lots", "Enter the opening points as a whole number"),
        ("credit_limit", "10.123", "an amount in HK$"),
        ("credit_limit", "-5", "an amount in HK$"),
        ("programme", "GOLD", "Not a valid choice"),
    ],
)
def test_a_bad_new_cardholder_form_shows_a_clear_error_and_creates_nothing(app, console, field, value, message):
    data = {"name": "TAM WAI KEI", "mobile": "98765432", "programme": "REWARDS", "points": "0", "credit_limit": "100"}
    data[field] = value
    response = console.post("/cardholders/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Card)) == 7


def test_a_debit_cardholder_with_points_is_refused(console):
    data = {"name": "NG KA YI", "mobile": "61234567", "programme": "", "points": "500", "credit_limit": "100"}
    response = console.post("/cardholders/new", data=data)
    assert response.status_code == 400
    assert "cannot hold points" in response.get_data(as_text=True)


# --- Faults -----------------------------------------------------------------------------------------


def test_a_fault_added_in_the_console_answers_the_partner_call_then_recovers(app, api, console):
    response = console.post(
        "/controls/faults",
        data={
            "endpoint": "links.enroll",
            "latency_ms": "0",
            "error_status": "503",
            "error_code": "serviceUnavailable",
            "fail_times": "1",
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Fault added to links.enroll: HTTP 503 serviceUnavailable; next 1 call." in html
    body = {"lastFourDigitsCardNumber": "8741", "citiCardHolderPhoneNumber": "91234567"}
    body["merchantCustomerReferenceId"] = "C-1"
    failed = api.post("/v1/apac/rewards/linkage", json=body)
    assert failed.status_code == 503 and failed.json["code"] == "serviceUnavailable"
    assert api.post("/v1/apac/rewards/linkage", json=body).status_code == 200
    assert faults(app) == []


def test_a_latency_and_drop_fault_is_listed_and_can_be_removed(app, console):
    console.post(
        "/controls/faults", data={"endpoint": "redemptions.redeem", "latency_ms": "1500", "drop_response": "y"}
    )
    [rule] = faults(app)
    assert rule.drop_response_after_commit and rule.latency_ms == 1500 and rule.remaining_failures is None
    html = console.get("/controls").get_data(as_text=True)
    assert "commit, then drop the response; +1500 ms; until removed" in html
    assert f'Remove<span class="visually-hidden"> fault rule {rule.id} on redemptions.redeem</span>' in html
    response = console.post(f"/controls/faults/{rule.id}/remove", follow_redirects=True)
    assert f"Fault rule {rule.id} removed." in response.get_data(as_text=True)
    assert faults(app) == []
    assert console.post(f"/controls/faults/{rule.id}/remove").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"endpoint": "console_cards.card_list", "latency_ms": "100"}, "Not a valid choice"),
        ({"endpoint": "links.enroll", "latency_ms": "0"}, "must add latency, force an error or drop"),
        ({"endpoint": "links.enroll", "error_status": "503"}, "needs an error code"),
        (
            {"endpoint": "links.enroll", "error_status": "200", "error_code": "ok"},
            "The forced status must be between 400 and 599",
        ),
        ({"endpoint": "links.enroll", "error_code": "oops"}, "needs a forced status"),
        ({"endpoint": "links.enroll", "latency_ms": "-1"}, "Added latency must be between 0"),
        ({"endpoint": "links.enroll", "latency_ms": "100", "fail_times": "0"}, "The number of calls must be between 1"),
        (
            {"endpoint": "links.enroll", "error_status": "503", "error_code": "x", "drop_response": "y"},
            "not both",
        ),
    ],
)
def test_a_bad_fault_shows_a_clear_error_and_adds_nothing(app, console, data, message):
    response = console.post("/controls/faults", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert faults(app) == []


# --- Clock, reset, unlink ------------------------------------------------------------------------------


def test_advance_clock_moves_the_sandbox_clock(app, console):
    response = console.post("/controls/clock", data={"minutes": "6"}, follow_redirects=True)
    assert "Sandbox clock advanced by 6 min (now 6 min ahead)." in response.get_data(as_text=True)
    with app.app_context():
        assert clock.offset_seconds() == 360


@pytest.mark.parametrize(
    ("minutes", "message"), [("0", "Minutes must be between 1"), ("soon", "how many minutes as a whole number")]
)
def test_a_bad_clock_move_shows_an_error_and_the_clock_stays(app, console, minutes, message):
    response = console.post("/controls/clock", data={"minutes": minutes})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with app.app_context():
        assert clock.offset_seconds() == 0


def test_reset_to_seed_restores_balances_statuses_and_clears_faults_and_messages(app, api, console):
    console.post("/cards/8741/points", data={"delta": "-100000", "reason": "Spend it"})
    console.post("/cards/8741/freeze")
    console.post("/controls/faults", data={"endpoint": "links.enroll", "latency_ms": "10"})
    enrol(api, last4="1190", phone="93456789")
    response = console.post("/controls/reset", follow_redirects=True)
    assert "back in its seed state" in response.get_data(as_text=True)
    assert balance(app, "8741") == 120_000 and status(app, "8741") == "ACTIVE"
    assert faults(app) == []
    assert "No messages to this number yet." in console.get("/phone?phone=93456789").get_data(as_text=True)
    assert console.get("/cards").status_code == 200  # still signed in after the reset
