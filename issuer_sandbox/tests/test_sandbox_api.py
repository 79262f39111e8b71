"""The sandbox JSON controls: key check, SMS outbox, clock, reset and the request log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from issuer_sandbox.api.sandbox import sandbox_key_required
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RewardLink

from .conftest import SANDBOX_KEY

KEY = {"X-Sandbox-Key": SANDBOX_KEY}
HAPPY = {
    "lastFourDigitsCardNumber": "8741",
    "citiCardHolderPhoneNumber": "91234567",
    "merchantCustomerReferenceId": "C-1",
}
PREMIER = {
    "lastFourDigitsCardNumber": "1190",
    "citiCardHolderPhoneNumber": "93456789",
    "merchantCustomerReferenceId": "C-2",
}

GUARDED = [
    ("get", "/sandbox/api/sms"),
    ("get", "/sandbox/api/clock"),
    ("post", "/sandbox/api/clock/advance"),
    ("post", "/sandbox/api/reset"),
    ("get", "/sandbox/api/requests"),
]


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize("headers", [{}, {"X-Sandbox-Key": "wrong"}, {"X-Sandbox-Key": SANDBOX_KEY + "x"}])
def test_every_sandbox_route_needs_the_sandbox_key(client, method, path, headers):
    response = getattr(client, method)(path, json={"seconds": 1}, headers=headers)

    assert response.status_code == 401
    assert response.json["code"] == "invalidSandboxKey"


def test_the_key_check_is_a_reusable_decorator():
    app = Flask(__name__)
    app.config["SANDBOX_KEY"] = "k"
    from issuer_sandbox.api.errors import register_error_handlers

    register_error_handlers(app)

    @app.get("/sandbox/api/thing")
    @sandbox_key_required
    def thing():
        return {"ok": True}

    client = app.test_client()
    assert client.get("/sandbox/api/thing").status_code == 401
    assert client.get("/sandbox/api/thing", headers={"X-Sandbox-Key": "k"}).json == {"ok": True}


def test_the_sms_outbox_lists_messages_newest_first_with_the_otp(api, client):
    api.post("/v1/apac/rewards/linkage", json=HAPPY)
    api.post("/v1/apac/rewards/linkage", json=PREMIER)

    messages = client.get("/sandbox/api/sms", headers=KEY).json

    assert [m["phone"] for m in messages] == ["93456789", "91234567"]
    assert set(messages[0]) == {"id", "phone", "body", "sentAt", "otp", "rewardLinkCode", "merchantCustomerReferenceId"}
    assert messages[0]["id"] > messages[1]["id"]
    assert messages[0]["otp"] in messages[0]["body"]
    assert messages[0]["sentAt"].endswith("Z")


@pytest.mark.parametrize("phone", ["91234567", "9123 4567", "+85291234567"])
def test_the_sms_outbox_filters_by_phone_in_any_accepted_format(api, client, phone):
    api.post("/v1/apac/rewards/linkage", json=HAPPY)
    api.post("/v1/apac/rewards/linkage", json=PREMIER)

    messages = client.get("/sandbox/api/sms", query_string={"phone": phone}, headers=KEY).json

    assert [m["phone"] for m in messages] == ["91234567"]


def test_each_message_says_the_link_and_the_merchant_customer_it_was_sent_for(api, client):
    code = api.post("/v1/apac/rewards/linkage", json=HAPPY).json["rewardLinkCode"]

    (message,) = client.get("/sandbox/api/sms", headers=KEY).json

    assert message["rewardLinkCode"] == code
    assert message["merchantCustomerReferenceId"] == "C-1"


def test_two_customers_sharing_a_card_each_find_their_own_code(api, client):
    """Concurrent tests enrolling one card: the phone filter alone would give the newest code to both."""
    first = api.post("/v1/apac/rewards/linkage", json=HAPPY).json["rewardLinkCode"]
    second = api.post("/v1/apac/rewards/linkage", json={**HAPPY, "merchantCustomerReferenceId": "C-9"}).json[
        "rewardLinkCode"
    ]

    by_link = client.get("/sandbox/api/sms", query_string={"rewardLinkCode": first}, headers=KEY).json
    by_customer = client.get(
        "/sandbox/api/sms", query_string={"phone": "91234567", "merchantCustomerReferenceId": "C-9"}, headers=KEY
    ).json

    assert [m["rewardLinkCode"] for m in by_link] == [first]
    assert [m["rewardLinkCode"] for m in by_customer] == [second]
    for code, message in ((first, by_link[0]), (second, by_customer[0])):
        activated = api.put(f"/v1/apac/rewards/{code}/activations", json={"linkageConfirmationCode": message["otp"]})
        assert activated.status_code == 200, activated.json


def test_a_filter_that_matches_no_link_finds_nothing(api, client):
    api.post("/v1/apac/rewards/linkage", json=HAPPY)

    for query in ({"rewardLinkCode": "no-such-link"}, {"merchantCustomerReferenceId": "C-404"}):
        assert client.get("/sandbox/api/sms", query_string=query, headers=KEY).json == []


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"rewardLinkCode": "x" * 65}, "at most 64 printable ASCII characters"),
        # Refused by the request-wide control-character check before the filter reads it.
        ({"rewardLinkCode": "a\x00b"}, "must not contain control characters such as NUL"),
        ({"merchantCustomerReferenceId": "C-１"}, "at most 64 printable ASCII characters"),
    ],
)
def test_bad_sms_link_filters_are_invalid_request(client, query, detail):
    response = client.get("/sandbox/api/sms", query_string=query, headers=KEY)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    assert detail in response.json["details"]


@pytest.mark.parametrize(
    "query", [{"phone": "123"}, {"limit": "0"}, {"limit": "x"}, {"limit": "501"}, {"limit": "-1"}, {"limit": "５"}]
)
def test_bad_sms_outbox_queries_are_invalid_request(client, query):
    response = client.get("/sandbox/api/sms", query_string=query, headers=KEY)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"


def test_the_clock_starts_at_real_time_and_advances(client):
    before = client.get("/sandbox/api/clock", headers=KEY).json
    assert before["offsetSeconds"] == 0

    after = client.post("/sandbox/api/clock/advance", json={"seconds": 3600}, headers=KEY)

    assert after.status_code == 200
    assert after.json["offsetSeconds"] == 3600
    assert after.json["now"] > before["now"]
    assert client.get("/sandbox/api/clock", headers=KEY).json["offsetSeconds"] == 3600


@pytest.mark.parametrize(
    "body",
    [{"seconds": -1}, {"seconds": 1.5}, {"seconds": "60"}, {"seconds": True}, {}, {"seconds": 10**12}, {"minutes": 1}],
)
def test_bad_clock_advances_are_invalid_request_and_leave_the_clock(client, body):
    response = client.post("/sandbox/api/clock/advance", json=body, headers=KEY)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"
    assert client.get("/sandbox/api/clock", headers=KEY).json["offsetSeconds"] == 0


def test_reset_restores_the_seed_state(app, api, client):
    api.post("/v1/apac/rewards/linkage", json=HAPPY)
    client.post("/sandbox/api/clock/advance", json={"seconds": 60}, headers=KEY)

    response = client.post("/sandbox/api/reset", headers=KEY)

    assert response.status_code == 200
    assert client.get("/sandbox/api/sms", headers=KEY).json == []
    assert client.get("/sandbox/api/clock", headers=KEY).json["offsetSeconds"] == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RewardLink)) == 0


def test_the_request_log_lists_partner_calls_newest_first_and_filters(api, client):
    api.post("/v1/apac/rewards/linkage", json=HAPPY)
    api.post("/v1/apac/rewards/linkage", json={**HAPPY, "lastFourDigitsCardNumber": "0000"})

    entries = client.get("/sandbox/api/requests", headers=KEY).json
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/v1/apac/rewards/linkage", 404),
        ("/v1/apac/rewards/linkage", 200),
        ("/gcb/api/clientCredentials/oauth2/token/hk/gcb", 200),
    ]
    assert {
        "id",
        "at",
        "clientId",
        "method",
        "path",
        "endpoint",
        "status",
        "latencyMs",
        "uuid",
        "idempotencyKey",
        "replayed",
        "fault",
        "requestBody",
        "responseBody",
        "answerLogged",
    } == set(entries[0])
    assert all(entry["answerLogged"] is True for entry in entries)  # each answer reached the log

    assert [e["status"] for e in client.get("/sandbox/api/requests?status=404", headers=KEY).json] == [404]
    assert len(client.get("/sandbox/api/requests?path=linkage", headers=KEY).json) == 2
    assert len(client.get("/sandbox/api/requests?path=oauth2", headers=KEY).json) == 1
    assert len(client.get("/sandbox/api/requests?limit=1", headers=KEY).json) == 1
    assert client.get("/sandbox/api/requests?path=%25", headers=KEY).json == []  # % is literal, not a wildcard


@pytest.mark.parametrize("query", [{"status": "abc"}, {"status": "2000"}, {"limit": "1000"}, {"path": "x" * 301}])
def test_bad_request_log_queries_are_invalid_request(client, query):
    response = client.get("/sandbox/api/requests", query_string=query, headers=KEY)

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"


def test_sandbox_calls_are_not_in_the_request_log(client):
    client.get("/sandbox/api/clock", headers=KEY)
    client.get("/sandbox/api/sms", headers=KEY)

    assert client.get("/sandbox/api/requests", headers=KEY).json == []


@pytest.mark.parametrize(("method", "path"), [("post", "/sandbox/api/sms"), ("get", "/sandbox/api/reset")])
def test_wrong_methods_on_sandbox_routes_are_json_405(client, method, path):
    response = getattr(client, method)(path, headers=KEY)

    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"
