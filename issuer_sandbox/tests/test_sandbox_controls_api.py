"""The JSON twin of the console's controls under /sandbox/api, guarded by X-Sandbox-Key."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from issuer_sandbox import controls, ledger
from issuer_sandbox.extensions import db
from issuer_sandbox.models import Card, FaultRule, LedgerEntry
from issuer_sandbox.payments import luhn_valid

from .console_support import enrol, enrol_and_activate, pay, redeem

KEY = {"X-Sandbox-Key": "demo-sandbox-key"}

ROUTES = [
    ("get", "/sandbox/api/cards"),
    ("get", "/sandbox/api/cards/8741"),
    ("post", "/sandbox/api/cards/8741/freeze"),
    ("post", "/sandbox/api/cards/8741/unfreeze"),
    ("post", "/sandbox/api/cards/8741/points"),
    ("post", "/sandbox/api/cardholders"),
    ("get", "/sandbox/api/faults"),
    ("post", "/sandbox/api/faults"),
    ("get", "/sandbox/api/faults/1"),
    ("delete", "/sandbox/api/faults/1"),
    ("get", "/sandbox/api/ledger/health"),
    ("get", "/sandbox/api/links"),
    ("delete", "/sandbox/api/links/1"),
]


def entries(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))


def card_status(app, last4: str) -> str:
    with app.app_context():
        return controls.find_card(last4).status


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("headers", [{}, {"X-Sandbox-Key": "wrong"}, {"X-Sandbox-Key": ""}])
def test_every_route_refuses_a_missing_or_wrong_sandbox_key_and_changes_nothing(app, client, method, path, headers):
    response = getattr(client, method)(path, json={"delta": 5, "reason": "x"}, headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "invalidSandboxKey" and response.json["type"] == "error"
    assert card_status(app, "8741") == "ACTIVE"
    with app.app_context():
        assert ledger.balance_of(controls.find_card("8741")) == 120_000


def test_the_sandbox_key_comes_from_configuration(tmp_path):
    from .conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'key.sqlite3'}", SANDBOX_KEY="another-key")
    client = app.test_client()
    assert client.get("/sandbox/api/cards", headers=KEY).status_code == 401
    assert client.get("/sandbox/api/cards", headers={"X-Sandbox-Key": "another-key"}).status_code == 200


# --- Cards --------------------------------------------------------------------------------------------


def test_list_cards_gives_every_card_with_its_balance_and_credit(client):
    cards = {card["last4"]: card for card in client.get("/sandbox/api/cards", headers=KEY).json["cards"]}
    assert len(cards) == 7
    happy = cards["8741"]
    assert happy["maskedNumber"] == "•••• •••• •••• 8741" and "number" not in happy
    assert happy["holder"] == "CHAN TAI MAN" and happy["mobile"] == "91234567"
    assert happy["programme"] == "REWARDS" and happy["pointsBalance"] == 120_000
    assert happy["creditLimit"] == "50000.00" and happy["creditAvailable"] == "50000.00"
    assert cards["4300"]["pointsBalance"] is None and cards["4300"]["programme"] is None
    assert cards["7404"]["status"] == "FROZEN"
    assert cards["5051"]["creditLimit"] == "100.00"


def test_get_card_gives_balance_ledger_and_statement(app, api, client):
    pay(api)
    code = enrol_and_activate(api, app)
    outcome = redeem(api, code)
    card = client.get("/sandbox/api/cards/8741", headers=KEY).json
    assert "number" not in card and card["maskedNumber"] == "•••• •••• •••• 8741"  # only last four leave
    assert card["pointsBalance"] == 70_000
    assert [(e["kind"], e["points"], e["balanceAfter"]) for e in card["ledger"]] == [
        ("ISSUE", 120_000, 120_000),
        ("REDEEM", -50_000, 70_000),
    ]
    assert all(isinstance(e["transactionId"], int) for e in card["ledger"])
    assert outcome["orderId"] in card["ledger"][1]["reference"] + card["ledger"][1]["description"]
    kinds = [(line["kind"], line["amount"]) for line in card["statement"]]
    assert ("PURCHASE", "520.00") in kinds and ("POINTS_CREDIT", "-200.00") in kinds
    assert card["outstanding"] == "320.00"


def test_get_an_unknown_card_is_404_card_not_found(client):
    response = client.get("/sandbox/api/cards/0000", headers=KEY)
    assert response.status_code == 404
    assert response.json == {"type": "error", "code": "cardNotFound", "details": "No card ends in 0000."}


def test_freeze_and_unfreeze_change_the_card_status(app, api, client):
    response = client.post("/sandbox/api/cards/8741/freeze", headers=KEY)
    assert response.status_code == 200 and response.json["status"] == "FROZEN"
    refused = api.post(
        "/v1/apac/rewards/linkage",
        json={
            "lastFourDigitsCardNumber": "8741",
            "citiCardHolderPhoneNumber": "91234567",
            "merchantCustomerReferenceId": "C-1",
        },
    )
    assert refused.json["code"] == "notEligibleToRedeem"
    response = client.post("/sandbox/api/cards/8741/unfreeze", headers=KEY)
    assert response.json["status"] == "ACTIVE" and card_status(app, "8741") == "ACTIVE"
    assert client.post("/sandbox/api/cards/0000/freeze", headers=KEY).status_code == 404


def test_adjust_points_posts_a_ledger_transaction_and_returns_the_new_balance(app, client):
    response = client.post("/sandbox/api/cards/8741/points", json={"delta": -20_000, "reason": "Test"}, headers=KEY)
    assert response.status_code == 200
    assert response.json["card"]["pointsBalance"] == 100_000
    assert response.json["transaction"]["kind"] == "ADJUST"
    assert response.json["transaction"]["description"] == "Adjustment: Test"
    with app.app_context():
        assert ledger.check_ledger() == []


@pytest.mark.parametrize(
    ("body", "status", "code", "details"),
    [
        ({"delta": 0, "reason": "x"}, 422, "invalidControl", "must not be zero"),
        ({"delta": 1.5, "reason": "x"}, 400, "invalidRequest", "delta must be a whole number"),
        ({"delta": "100", "reason": "x"}, 400, "invalidRequest", "delta must be a whole number"),
        ({"delta": True, "reason": "x"}, 400, "invalidRequest", "delta must be a whole number"),
        ({"reason": "x"}, 400, "invalidRequest", "delta is required"),
        ({"delta": 100}, 400, "invalidRequest", "reason is required"),
        ({"delta": 100, "reason": "  "}, 400, "invalidRequest", "reason is required"),
        ({"delta": 100, "reason": "x" * 151}, 400, "invalidRequest", "at most 150"),
        ({"delta": 100, "reason": "x", "extra": 1}, 400, "invalidRequest", "Unknown field(s): extra"),
        ({"delta": 10**13, "reason": "x"}, 400, "invalidRequest", "too large"),
        (
            {"delta": -120_001, "reason": "x"},
            422,
            "inSufficientPointBalance",
            "Card ending 8741 does not hold 120,001 points.",
        ),
    ],
)
def test_bad_point_adjustments_are_refused_with_the_error_shape_and_change_nothing(
    app, client, body, status, code, details
):
    before = entries(app)
    response = client.post("/sandbox/api/cards/8741/points", json=body, headers=KEY)
    assert response.status_code == status
    assert response.json["code"] == code and details in response.json["details"]
    assert response.json["type"] == ("error" if status == 422 else "invalid")  # 422: a rule refused it
    assert entries(app) == before


def test_adjusting_a_card_without_a_programme_is_refused(client):
    response = client.post("/sandbox/api/cards/4300/points", json={"delta": 10, "reason": "x"}, headers=KEY)
    assert response.status_code == 422 and "not in a points programme" in response.json["details"]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"delta": NaN, "reason": "x"}'],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, raw):
    response = client.post(
        "/sandbox/api/cards/8741/points", data=raw, headers={**KEY, "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json["code"] == "invalidRequest"


@pytest.mark.parametrize(
    ("path", "body", "details"),
    [
        (
            "/sandbox/api/cards/8741/points",
            {"delta": "x", "reason": " ", "extra": 1, "more": 2},
            "delta must be a whole number. reason is required and must not be blank. Unknown field(s): extra, more.",
        ),
        ("/sandbox/api/cards/8741/points", {"delta": -(10**13), "reason": "x"}, "delta is too small"),
        (
            "/sandbox/api/cardholders",
            {"name": "TAM", "mobile": "98765432", "programme": "GOLD", "creditLimit": True},
            "programme must be 'REWARDS' or 'PREMIER'. creditLimit must be a decimal string",
        ),
        (
            "/sandbox/api/faults",
            {"endpoint": "links.enroll", "errorCode": 5, "dropResponseAfterCommit": None},
            "errorCode must be a string. dropResponseAfterCommit must be true or false.",
        ),
        ("/sandbox/api/clock/advance", {}, "seconds is required."),
        ("/sandbox/api/clock/advance", {"seconds": -1}, "seconds must be at least 0."),
    ],
)
def test_every_problem_of_a_body_is_named_field_by_field_in_one_answer(client, path, body, details):
    response = client.post(path, json=body, headers=KEY)
    assert response.status_code == 400
    assert response.json["type"] == "invalid" and response.json["code"] == "invalidRequest"
    assert details in response.json["details"]


def test_a_body_without_the_json_content_type_is_refused(client):
    response = client.post("/sandbox/api/cards/8741/points", data="delta=5", headers=KEY)
    assert response.status_code == 400 and "Content-Type: application/json" in response.json["details"]


# --- Test cardholders ---------------------------------------------------------------------------------


def test_create_a_test_cardholder_returns_the_new_card_number(app, api, client):
    body = {"name": "Tam Wai Kei", "mobile": "98765432", "programme": "PREMIER", "points": 40_000}
    body["creditLimit"] = "2000.00"
    response = client.post("/sandbox/api/cardholders", json=body, headers=KEY)
    assert response.status_code == 201
    card = response.json
    assert card["number"].startswith("496602") and luhn_valid(card["number"])
    assert card["last4"] == card["number"][-4:] and card["holder"] == "TAM WAI KEI"
    assert card["pointsBalance"] == 40_000 and card["creditLimit"] == "2000.00"
    assert card["programme"] == "PREMIER"
    enrol(api, last4=card["last4"], phone="98765432")


def test_create_a_debit_test_cardholder_with_defaults(client):
    response = client.post(
        "/sandbox/api/cardholders", json={"name": "NG KA YI", "mobile": "61234567", "programme": None}, headers=KEY
    )
    assert response.status_code == 201
    assert response.json["kind"] == "debit" and response.json["pointsBalance"] is None
    assert response.json["creditLimit"] == "50000.00"


@pytest.mark.parametrize(
    ("body", "status", "details"),
    [
        ({"mobile": "98765432"}, 400, "name is required"),
        ({"name": "TAM"}, 400, "mobile is required"),
        ({"name": "TAM", "mobile": "98765432", "programme": "GOLD"}, 400, "programme must be"),
        ({"name": "TAM", "mobile": "98765432", "points": "100"}, 400, "points must be a whole number"),
        ({"name": "TAM", "mobile": "98765432", "creditLimit": True}, 400, "creditLimit"),
        ({"name": "TAM", "mobile": "98765432", "creditLimit": "1.234"}, 400, "creditLimit"),
        ({"name": "TAM", "mobile": "98765432", "creditLimit": "-5"}, 400, "creditLimit"),
        ({"name": "TAM", "mobile": "98765432", "colour": "red"}, 400, "Unknown field(s): colour"),
        ({"name": "TAM", "mobile": "1234"}, 422, "8 digits"),
        ({"name": "T", "mobile": "98765432"}, 422, "The name must be"),
        ({"name": "TAM", "mobile": "98765432", "points": -1}, 422, "must not be negative"),
        ({"name": "TAM", "mobile": "98765432", "programme": None, "points": 5}, 422, "cannot hold points"),
    ],
)
def test_a_bad_test_cardholder_request_is_refused_and_creates_nothing(app, client, body, status, details):
    response = client.post("/sandbox/api/cardholders", json=body, headers=KEY)
    assert response.status_code == status and details in response.json["details"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Card)) == 7


# --- Faults -------------------------------------------------------------------------------------------


def test_faults_lists_the_rules_and_the_endpoints_that_can_be_faulted(client):
    body = client.get("/sandbox/api/faults", headers=KEY).json
    assert body["faults"] == []
    names = {endpoint["name"] for endpoint in body["endpoints"]}
    assert {"links.enroll", "redemptions.redeem"} <= names
    assert not any(name.startswith("sandbox") for name in names)


def test_a_fault_created_through_the_api_fails_the_endpoint_n_times_then_recovers(app, api, client):
    response = client.post(
        "/sandbox/api/faults",
        json={"endpoint": "links.enroll", "errorStatus": 503, "errorCode": "serviceUnavailable", "failTimes": 2},
        headers=KEY,
    )
    assert response.status_code == 201
    rule = response.json
    assert rule["remainingFailures"] == 2 and rule["dropResponseAfterCommit"] is False
    assert client.get(f"/sandbox/api/faults/{rule['id']}", headers=KEY).json["errorCode"] == "serviceUnavailable"
    body = {"lastFourDigitsCardNumber": "8741", "citiCardHolderPhoneNumber": "91234567"}
    body["merchantCustomerReferenceId"] = "C-1"
    assert [api.post("/v1/apac/rewards/linkage", json=body).status_code for _ in range(3)] == [503, 503, 200]
    assert client.get("/sandbox/api/faults", headers=KEY).json["faults"] == []


def test_deleting_a_fault_removes_it_and_a_second_delete_is_404(app, client):
    rule = client.post(
        "/sandbox/api/faults", json={"endpoint": "redemptions.redeem", "latencyMs": 100}, headers=KEY
    ).json
    assert client.delete(f"/sandbox/api/faults/{rule['id']}", headers=KEY).status_code == 204
    with app.app_context():
        assert db.session.get(FaultRule, rule["id"]) is None
    again = client.delete(f"/sandbox/api/faults/{rule['id']}", headers=KEY)
    assert again.status_code == 404 and again.json["code"] == "faultNotFound"
    assert client.get(f"/sandbox/api/faults/{rule['id']}", headers=KEY).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "details"),
    [
        ({}, 400, "endpoint is required"),
        ({"endpoint": "nope.nothing", "latencyMs": 10}, 422, "Unknown endpoint"),
        ({"endpoint": "sandbox_controls.list_cards", "latencyMs": 10}, 422, "Unknown endpoint"),
        ({"endpoint": "links.enroll"}, 422, "must add latency"),
        ({"endpoint": "links.enroll", "latencyMs": "10"}, 400, "latencyMs must be a whole number"),
        ({"endpoint": "links.enroll", "latencyMs": -1}, 422, "between 0"),
        ({"endpoint": "links.enroll", "errorStatus": 503}, 422, "needs an error code"),
        ({"endpoint": "links.enroll", "errorStatus": 302, "errorCode": "x"}, 422, "between 400"),
        ({"endpoint": "links.enroll", "errorCode": 5}, 400, "errorCode must be a string"),
        ({"endpoint": "links.enroll", "latencyMs": 5, "dropResponseAfterCommit": "yes"}, 400, "true or false"),
        ({"endpoint": "links.enroll", "latencyMs": 5, "failTimes": 0}, 422, "between 1"),
        ({"endpoint": "links.enroll", "latencyMs": 5, "when": "now"}, 400, "Unknown field(s): when"),
    ],
)
def test_a_bad_fault_is_refused_and_nothing_is_stored(app, client, body, status, details):
    response = client.post("/sandbox/api/faults", json=body, headers=KEY)
    assert response.status_code == status and details in response.json["details"]
    with app.app_context():
        assert controls.list_faults() == []


# --- Ledger health and links ----------------------------------------------------------------------------


def test_ledger_health_reports_totals_and_the_ledger_check(app, api, client):
    code = enrol_and_activate(api, app)
    redeem(api, code)
    health = client.get("/sandbox/api/ledger/health", headers=KEY).json
    seeded = 120_000 + 800 + 2_000_000 + 50_000 + 60_000 + 40_000
    assert health == {
        "issued": seeded,
        "redeemed": 50_000,
        "reversed": 0,
        "liability": seeded - 50_000,
        "ledgerCheck": {"ok": True, "problems": []},
    }


def test_links_lists_each_link_with_its_merchant_customer_and_status(app, api, client):
    enrol_and_activate(api, app, customer="C-1001")
    enrol(api, last4="1190", phone="93456789", customer="C-2002")
    links = client.get("/sandbox/api/links", headers=KEY).json["links"]
    by_customer = {link["merchantCustomerReferenceId"]: link for link in links}
    assert by_customer["C-1001"]["status"] == "ACTIVE" and by_customer["C-1001"]["cardLast4"] == "8741"
    assert by_customer["C-2002"]["status"] == "PENDING_ACTIVATION"
    assert by_customer["C-1001"]["merchant"] == "harbour-mall"
    active = client.get("/sandbox/api/links?status=ACTIVE", headers=KEY).json["links"]
    assert [link["merchantCustomerReferenceId"] for link in active] == ["C-1001"]
    bad = client.get("/sandbox/api/links?status=GONE", headers=KEY)
    assert bad.status_code == 400 and bad.json["code"] == "invalidRequest"


def test_unlinking_through_the_api_ends_the_link(app, api, client):
    code = enrol_and_activate(api, app)
    link_id = client.get("/sandbox/api/links", headers=KEY).json["links"][0]["id"]
    response = client.delete(f"/sandbox/api/links/{link_id}", headers=KEY)
    assert response.status_code == 200 and response.json["status"] == "UNLINKED"
    assert api.get(f"/v1/apac/rewards/{code}/pointBalance").status_code == 404
    assert client.delete(f"/sandbox/api/links/{link_id}", headers=KEY).status_code == 409
    assert client.delete("/sandbox/api/links/999999", headers=KEY).status_code == 404
