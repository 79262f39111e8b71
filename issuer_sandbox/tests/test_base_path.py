"""The whole partner API under /gcb/api, and at today's unprefixed paths as aliases of the same endpoints."""

from __future__ import annotations

import pytest

from .redemption_support import HAPPY, REVERSALS_PATH, make_link, partner_api, redemption_body
from .test_observability import add_fault, log_entries
from .test_openapi import latest_otp

BASE = "/gcb/api"
PARTNER_PREFIXES = ("/v1/", "/gateway/")


def test_every_unprefixed_partner_route_has_a_twin_under_gcb_api_with_the_same_endpoint(app):
    rules = {(rule.rule, rule.endpoint, frozenset(rule.methods)) for rule in app.url_map.iter_rules()}
    aliases = {rule for rule in rules if rule[0].startswith(PARTNER_PREFIXES)}

    assert len(aliases) == 13
    for path, endpoint, methods in aliases:
        assert (BASE + path, endpoint, methods) in rules, path


def test_nothing_else_is_served_under_gcb_api_but_the_token_and_the_twins(app):
    paths = {rule.rule for rule in app.url_map.iter_rules()}
    prefixed = {path for path in paths if path.startswith(BASE + "/")}

    assert prefixed - {BASE + path for path in paths} == {f"{BASE}/clientCredentials/oauth2/token/hk/gcb"}


def test_enrol_and_activate_answer_under_gcb_api(app, api):
    body = {
        "lastFourDigitsCardNumber": HAPPY,
        "citiCardHolderPhoneNumber": "91234567",
        "merchantCustomerReferenceId": "C-2001",
    }
    enrolled = api.post(f"{BASE}/v1/apac/rewards/linkage", json=body)
    assert enrolled.status_code == 200, enrolled.json
    assert enrolled.json["linkStatus"] == "PENDING_ACTIVATION"
    code = enrolled.json["rewardLinkCode"]

    activated = api.put(f"{BASE}/v1/apac/rewards/{code}/activations", json={"linkageConfirmationCode": latest_otp(app)})
    assert (activated.status_code, activated.json) == (200, {"linkStatus": "ACTIVE"})
    at_alias = api.put(f"/v1/apac/rewards/{code}/activations", json={"linkageConfirmationCode": "123456"})
    at_base = api.put(f"{BASE}/v1/apac/rewards/{code}/activations", json={"linkageConfirmationCode": "123456"})
    assert (at_alias.status_code, at_alias.json) == (at_base.status_code, at_base.json)
    assert at_base.json["code"] == "linkAlreadyActive"


def same_answer(first, second) -> None:
    assert first.status_code == second.status_code
    assert first.get_json() == second.get_json()


def test_points_calls_answer_identically_at_both_paths(app):
    api = partner_api(app)
    code = make_link(app)
    rewards = "/v1/apac/rewards"

    same_answer(api.get(f"{BASE}{rewards}/{code}/pointBalance"), api.get(f"{rewards}/{code}/pointBalance"))

    redeemed = api.post(f"{BASE}{rewards}/{code}/redemption", json=redemption_body())
    assert redeemed.status_code == 200, redeemed.json
    replayed = api.post(f"{rewards}/{code}/redemption", json=redemption_body())
    same_answer(redeemed, replayed)  # one endpoint, one idempotency store: the alias replays the first answer
    assert replayed.headers["Idempotent-Replayed"] == "true"

    order_id = redeemed.json["orderId"]
    same_answer(api.get(f"{BASE}{rewards}/redemption/{order_id}"), api.get(f"{rewards}/redemption/{order_id}"))
    query = "?transactionReferenceNumber=HM-000123"
    same_answer(api.get(f"{BASE}{rewards}/redemption{query}"), api.get(f"{rewards}/redemption{query}"))

    reversal = {"orderId": order_id, "reversalReferenceNumber": "HM-000123-R1", "pointsToReverse": 25000}
    reversed_ = api.post(BASE + REVERSALS_PATH, json=reversal)
    assert reversed_.status_code == 200, reversed_.json
    same_answer(reversed_, api.post(REVERSALS_PATH, json=reversal))

    too_many = {**reversal, "reversalReferenceNumber": "HM-000123-R2", "pointsToReverse": 10**6}
    same_answer(api.post(BASE + REVERSALS_PATH, json=too_many), api.post(REVERSALS_PATH, json=too_many))

    assert api.delete(f"{BASE}{rewards}/{code}").status_code == 204
    gone_at_base = api.get(f"{BASE}{rewards}/{code}/pointBalance")
    same_answer(gone_at_base, api.get(f"{rewards}/{code}/pointBalance"))
    assert gone_at_base.json["code"] == "invalidRewardLinkCode"
    same_answer(api.delete(f"{BASE}{rewards}/{code}"), api.delete(f"{rewards}/{code}"))


PAYMENT = {
    "amount": 52000,
    "currency": "HKD",
    "card": {"number": "4966 0100 0000 8741", "expiryMonth": 12, "expiryYear": 2099, "cvc": "123"},
    "merchantReference": "HM-000123",
}


def test_gateway_calls_answer_identically_at_both_paths(app, api):
    created = api.post(f"{BASE}/gateway/v1/payments", json=PAYMENT, headers={"Idempotency-Key": "k-1"})
    assert created.status_code == 201, created.json
    payment_id = created.json["paymentId"]
    assert created.headers["Location"] == f"{BASE}/gateway/v1/payments/{payment_id}"

    replayed = api.post("/gateway/v1/payments", json=PAYMENT, headers={"Idempotency-Key": "k-1"})
    same_answer(created, replayed)
    assert replayed.headers["Location"] == f"/gateway/v1/payments/{payment_id}"

    refund = {"amount": 12000}
    refunded = api.post(
        f"{BASE}/gateway/v1/payments/{payment_id}/refunds", json=refund, headers={"Idempotency-Key": "r-1"}
    )
    assert refunded.status_code == 201, refunded.json
    same_answer(
        refunded,
        api.post(f"/gateway/v1/payments/{payment_id}/refunds", json=refund, headers={"Idempotency-Key": "r-1"}),
    )
    same_answer(api.get(f"{BASE}/gateway/v1/payments/{payment_id}"), api.get(f"/gateway/v1/payments/{payment_id}"))
    query = "?merchantReference=HM-000123"
    same_answer(api.get(f"{BASE}/gateway/v1/payments{query}"), api.get(f"/gateway/v1/payments{query}"))
    same_answer(api.get(f"{BASE}/gateway/v1/payments/PAY-NOPE"), api.get("/gateway/v1/payments/PAY-NOPE"))


@pytest.mark.parametrize("path", [f"{BASE}/v1/apac/rewards/linkage", "/v1/apac/rewards/linkage"])
def test_a_fault_on_an_endpoint_answers_at_both_of_its_paths_and_both_are_logged_as_it(app, api, path):
    add_fault(app, "links.enroll", error_status=503, error_code="serviceUnavailable")

    response = api.post(path, json={})

    assert (response.status_code, response.json["code"]) == (503, "serviceUnavailable")
    entry = log_entries(app)[-1]
    assert (entry.path, entry.endpoint) == (path, "links.enroll")


def test_a_wrong_method_under_gcb_api_is_a_json_405(api):
    response = api.get(f"{BASE}/v1/apac/rewards/linkage")

    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"
