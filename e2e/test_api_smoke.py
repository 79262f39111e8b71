"""Smoke test of the issuer's partner API over real HTTP: the whole Pay with Points walk on the happy card."""

from __future__ import annotations

from .sandbox_api import PartnerApi, SandboxApi

HAPPY_CARD = "8741"
HAPPY_PHONE = "91234567"
REWARDS = "/gcb/api/v1/apac/rewards"  # the primary path, under the real issuer's base path
REWARDS_ALIAS = "/v1/apac/rewards"  # today's unprefixed alias of the same calls


def test_a_partner_walks_token_enrol_otp_activate_balance_redeem_reverse_and_status_over_http(
    partner: PartnerApi, sandbox: SandboxApi
):
    token = partner.fetch_token()
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer"
    assert token.json()["expires_in"] == 1800

    enrol = partner.post(
        f"{REWARDS}/linkage",
        json={
            "lastFourDigitsCardNumber": HAPPY_CARD,
            "citiCardHolderPhoneNumber": HAPPY_PHONE,
            "merchantCustomerReferenceId": "C-SMOKE-1",
        },
    )
    assert enrol.status_code == 200, enrol.text
    assert enrol.headers["uuid"] == enrol.request.headers["uuid"]
    assert enrol.json()["linkStatus"] == "PENDING_ACTIVATION"
    assert enrol.json()["maskedPhoneNumber"] == "****4567"
    link = enrol.json()["rewardLinkCode"]

    sms = sandbox.sms(HAPPY_PHONE)
    assert len(sms) == 1
    assert "ending 8741" in sms[0]["body"]
    assert (sms[0]["rewardLinkCode"], sms[0]["merchantCustomerReferenceId"]) == (link, "C-SMOKE-1")
    code = sandbox.latest_otp(link_code=link)

    activate = partner.put(f"{REWARDS}/{link}/activations", json={"linkageConfirmationCode": code})
    assert activate.status_code == 200, activate.text

    balance = partner.get(f"{REWARDS}/{link}/pointBalance")
    assert balance.status_code == 200, balance.text
    assert balance.json()["availablePointBalance"] == 120_000
    assert balance.json()["programConversionRate"] == "0.004"
    assert balance.json()["isRedemptionEligible"] is True

    redemption_body = {
        "transactionReferenceNumber": "HM-SMOKE-1",
        "redemptionOrder": {
            "transactionAmount": "520.00",
            "currencyCode": "HKD",
            "pointsToRedeem": 50_000,
            "transactionDescription": "Harbour Mall order HM-SMOKE-1",
        },
    }
    redeem = partner.post(f"{REWARDS}/{link}/redemption", json=redemption_body)
    assert redeem.status_code == 200, redeem.text
    assert redeem.json()["status"] == "COMPLETED"
    assert redeem.json()["pointsRedeemed"] == 50_000
    assert redeem.json()["redeemedAmount"] == "200.00"
    assert redeem.json()["availablePointBalance"] == 70_000
    order_id = redeem.json()["orderId"]

    replay = partner.post(f"{REWARDS_ALIAS}/{link}/redemption", json=redemption_body)
    assert replay.status_code == 200, replay.text
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["orderId"] == order_id
    assert sandbox.points(HAPPY_CARD) == 70_000

    reverse = partner.post(
        f"{REWARDS}/redemption/reversals",
        json={"orderId": order_id, "reversalReferenceNumber": "HM-SMOKE-1-R1", "pointsToReverse": 20_000},
    )
    assert reverse.status_code == 200, reverse.text
    assert reverse.json()["pointsReversed"] == 20_000
    assert reverse.json()["amountReversed"] == "80.00"
    assert reverse.json()["remainingReversiblePoints"] == 30_000
    assert reverse.json()["availablePointBalance"] == 90_000

    by_id = partner.get(f"{REWARDS}/redemption/{order_id}")
    assert by_id.status_code == 200, by_id.text
    by_reference = partner.get(f"{REWARDS}/redemption", params={"transactionReferenceNumber": "HM-SMOKE-1"})
    assert by_reference.status_code == 200, by_reference.text
    for look_up in (by_id.json(), by_reference.json()):
        assert look_up["orderId"] == order_id
        assert look_up["pointsRedeemed"] == 50_000
        assert len(look_up["reversals"]) == 1

    assert sandbox.points(HAPPY_CARD) == 90_000
    after = partner.get(f"{REWARDS}/{link}/pointBalance")
    assert after.json()["availablePointBalance"] == 90_000


def test_two_merchant_customers_enrolling_one_card_at_once_each_read_their_own_code(
    partner: PartnerApi, sandbox: SandboxApi
):
    """By phone both would read the newest code and one link would count a wrong guess."""
    links = {}
    for customer in ("C-SHARE-1", "C-SHARE-2"):
        enrol = partner.post(
            f"{REWARDS}/linkage",
            json={
                "lastFourDigitsCardNumber": HAPPY_CARD,
                "citiCardHolderPhoneNumber": HAPPY_PHONE,
                "merchantCustomerReferenceId": customer,
            },
        )
        assert enrol.status_code == 200, enrol.text
        links[customer] = enrol.json()["rewardLinkCode"]

    for customer, link in links.items():
        code = sandbox.latest_otp(HAPPY_PHONE, customer=customer)
        assert code == sandbox.latest_otp(link_code=link)
        activate = partner.put(f"{REWARDS}/{link}/activations", json={"linkageConfirmationCode": code})
        assert activate.status_code == 200, activate.text
    assert {link["status"] for link in sandbox.links() if link["rewardLinkCode"] in links.values()} == {"ACTIVE"}
