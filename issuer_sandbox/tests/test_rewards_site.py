"""The old flow at the bank: the gateway's payWithPointsFlow, the offer SMS, and Summit Bank's own redemption site
(identify, OTP, recent purchases, redeem once across both doors, the credit on the statement)."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, ledger, redemptions
from issuer_sandbox.api.openapi import openapi_document
from issuer_sandbox.extensions import db
from issuer_sandbox.links import BANK_SITE_CLIENT_ID
from issuer_sandbox.models import CardStatementLine, PartnerClient, Payment, Redemption, RewardLink, SmsMessage
from issuer_sandbox.otp import otp_in_sms
from issuer_sandbox.rewards_site import views

from .conftest import close_app, make_app
from .redemption_support import partner_api
from .rewards_support import (
    DEBIT,
    LOW,
    NO_SMS,
    OTHER_BANK,
    PAYMENTS,
    latest_otp,
    outbox,
    page,
    pay,
    points_of,
    redeem_at_checkout,
    sign_in,
)


@pytest.fixture
def api(app):
    return partner_api(app)


# --- The gateway's flow field and the bank's offer SMS ---------------------------------------------------


def test_a_legacy_flow_payment_with_a_points_card_texts_a_link_to_the_banks_site(api, app):
    response, body = pay(api, app, flow="legacy")
    assert response.status_code == 201 and response.json["card"]["pointsEligible"] is True
    [offer] = outbox(app)
    payment_id = response.json["paymentId"]
    assert f"http://localhost/rewards/?purchase={payment_id}" in offer
    assert "HKD 520.00 at Harbour Mall" in offer and "card ending 8741" in offer
    with app.app_context():
        assert db.session.scalar(sa.select(Payment.pwp_flow).where(Payment.payment_id == payment_id)) == "legacy"


@pytest.mark.parametrize("flow", [None, "native"])
def test_a_native_or_unflagged_payment_sends_no_sms_as_before(api, app, flow):
    response, _ = pay(api, app, flow=flow)
    assert response.status_code == 201
    assert outbox(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(Payment.pwp_flow)) == "native"


@pytest.mark.parametrize(
    ("number", "phone"),
    [(DEBIT, "94567890"), (OTHER_BANK, ""), (NO_SMS, "90000000")],
    ids=["debit card", "other bank", "mobile unreachable"],
)
def test_no_offer_goes_out_for_a_card_without_points_or_a_mobile_that_cannot_receive_it(api, app, number, phone):
    response, _ = pay(api, app, number=number)
    assert response.status_code == 201 and response.json["status"] == "CAPTURED"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 0


def test_a_declined_legacy_payment_sends_no_offer(api, app):
    response, _ = pay(api, app, number="4966010000005051", amount=20000)  # credit limit HK$100
    assert response.json["status"] == "DECLINED"
    assert outbox(app, "96789012") == []


def test_a_replayed_legacy_payment_sends_the_offer_once_and_another_flow_under_the_same_key_is_a_conflict(api, app):
    response, body = pay(api, app)
    key = {"Idempotency-Key": "HM-1-P1"}
    first = api.post(PAYMENTS, json=body, headers=key)
    again = api.post(PAYMENTS, json=body, headers=key)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json == first.json
    assert len(outbox(app)) == 2  # one for ``pay`` above, one for the keyed payment: the replay sent none
    other_flow = api.post(PAYMENTS, json={**body, "payWithPointsFlow": "native"}, headers=key)
    assert (other_flow.status_code, other_flow.json["code"]) == (409, "idempotencyKeyReused")


def test_an_unknown_flow_is_refused_as_an_invalid_request(api, app):
    response, _ = pay(api, app, flow="sms")
    assert (response.status_code, response.json["code"]) == (400, "invalidRequest")
    assert "payWithPointsFlow" in response.json["details"]


def test_the_openapi_document_describes_the_optional_flow_field_with_its_default(app):
    with app.test_request_context():
        schema = openapi_document()["components"]["schemas"]["PaymentRequest"]
    field = schema["properties"]["payWithPointsFlow"]
    assert field["enum"] == ["native", "legacy"] and field["default"] == "native"
    assert "payWithPointsFlow" not in schema.get("required", [])


# --- Signing in on the bank's site ------------------------------------------------------------------------


def test_the_site_signs_a_cardholder_in_with_last_four_mobile_and_an_sms_code(client, app):
    assert "Sign in" in page(client.get("/rewards/"))
    response = client.post("/rewards/", data={"last4": "8741", "mobile": "+852 9123-4567"})
    assert response.status_code == 302
    [sms] = outbox(app)
    assert "is your one-time password to sign in to Summit Bank Rewards with your card ending 8741" in sms
    assert "****4567" in page(client.get("/rewards/verify"))
    response = client.post("/rewards/verify", data={"code": otp_in_sms(sms)})
    assert response.location.endswith("/rewards/purchases")
    assert "120,000 points" in page(client.get("/rewards/purchases"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"last4": "8742", "mobile": "91234567"}, "No Summit Bank card matches those last four digits and mobile"),
        ({"last4": "8741", "mobile": "92345678"}, "No Summit Bank card matches those last four digits and mobile"),
        ({"last4": "8741", "mobile": "1234"}, "Enter your 8-digit Hong Kong mobile number"),
        ({"last4": "87", "mobile": "91234567"}, "Enter the four digits at the end of your card number."),
        ({"last4": "", "mobile": ""}, "Enter the last four digits of your card."),
        ({"last4": "4300", "mobile": "94567890"}, "This card cannot redeem points"),
    ],
)
def test_wrong_identification_is_refused_with_a_clear_message_and_sends_nothing(client, app, data, message):
    response = client.post("/rewards/", data=data)
    assert response.status_code == 422
    assert message in page(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 0


def test_a_wrong_code_says_how_many_attempts_are_left_and_an_expired_one_asks_for_a_new_code(client, app):
    client.post("/rewards/", data={"last4": "8741", "mobile": "91234567"})
    wrong = "000000" if latest_otp(app) != "000000" else "111111"
    response = client.post("/rewards/verify", data={"code": wrong})
    assert response.status_code == 422 and "That code is not right. 4 attempt(s) left." in page(response)
    with app.app_context():
        clock.advance(301)
    response = client.post("/rewards/verify", data={"code": latest_otp(app)})
    assert response.status_code == 422 and "That code has expired. Ask for a new code below." in page(response)
    client.post("/rewards/verify/resend")
    response = client.post("/rewards/verify", data={"code": latest_otp(app)})
    assert response.location.endswith("/rewards/purchases")


def test_five_wrong_codes_lock_the_sign_in_and_send_the_visitor_back_to_start(client, app):
    client.post("/rewards/", data={"last4": "8741", "mobile": "91234567"})
    wrong = "000000" if latest_otp(app) != "000000" else "111111"
    for _ in range(4):
        assert client.post("/rewards/verify", data={"code": wrong}).status_code == 422
    response = client.post("/rewards/verify", data={"code": wrong})
    assert response.location.endswith("/rewards/")
    assert "Too many wrong codes" in page(client.get("/rewards/"))
    assert client.get("/rewards/verify").location.endswith("/rewards/")


def test_the_otp_sms_limit_per_card_counts_the_sites_codes_with_every_merchants(client, app, api):
    enrol = {"lastFourDigitsCardNumber": "8741", "citiCardHolderPhoneNumber": "91234567"}
    for n in range(4):  # the merchant's enrolments use four of the card's five SMS an hour
        assert (
            api.post("/v1/apac/rewards/linkage", json={**enrol, "merchantCustomerReferenceId": f"C-{n}"}).status_code
            == 200
        )
    assert client.post("/rewards/", data={"last4": "8741", "mobile": "91234567"}).status_code == 302
    response = client.post("/rewards/", data={"last4": "8741", "mobile": "91234567"})
    assert response.status_code == 422
    assert re.search(r"Too many codes were requested\. Try again in \d+ seconds\.", page(response))


def test_pages_after_sign_in_send_a_visitor_who_is_not_signed_in_to_identify(client):
    for path in ("/rewards/purchases", "/rewards/verify", "/rewards/redeemed/RDM-1"):
        assert client.get(path).location.endswith("/rewards/")


def test_a_signed_in_visit_ends_after_fifteen_minutes_and_at_sign_out(client, app, monkeypatch):
    sign_in(client, app)
    client.post("/rewards/sign-out")
    assert client.get("/rewards/purchases").location.endswith("/rewards/")
    with app.app_context():
        statuses = db.session.scalars(sa.select(RewardLink.status).join(PartnerClient)).all()
    assert statuses == ["UNLINKED"]  # its code signs nobody in again
    sign_in(client, app)
    started = time.time()
    monkeypatch.setattr(views.time, "time", lambda: started + 15 * 60 + 1)
    assert client.get("/rewards/purchases").location.endswith("/rewards/")


def test_the_sites_partner_cannot_take_a_token(client, app):
    sign_in(client, app)
    response = client.post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials", "scope": "/api"},
        headers={"Authorization": "Basic " + base64.b64encode(f"{BANK_SITE_CLIENT_ID}:".encode()).decode()},
    )
    assert response.status_code == 401


def test_every_form_of_the_site_needs_its_csrf_token(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'issuer.sqlite3'}", WTF_CSRF_ENABLED=True)
    try:
        response = app.test_client().post("/rewards/", data={"last4": "8741", "mobile": "91234567"})
        assert response.status_code == 400
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 0
    finally:
        close_app(app)


# --- Purchases and redemption -------------------------------------------------------------------------------


def test_the_site_lists_the_cards_recent_unredeemed_purchases_with_the_sms_purchase_chosen(client, app, api):
    first, first_body = pay(api, app, amount=30000)
    second, second_body = pay(api, app, amount=52000)
    pay(api, app, number=LOW, amount=40000)  # another cardholder's card
    small, _ = pay(api, app, amount=999)  # under HK$10: cannot take points
    client.get(f"/rewards/?purchase={first.json['paymentId']}")
    sign_in(client, app)
    text = page(client.get("/rewards/purchases"))
    assert first_body["merchantReference"] in text and second_body["merchantReference"] in text
    assert small.json["paymentId"] not in text and "HK$400.00" not in text
    assert re.search(rf'value="{first.json["paymentId"]}" checked', text)
    assert text.index(second_body["merchantReference"]) < text.index(first_body["merchantReference"])  # newest first


def test_refunded_and_old_purchases_are_not_offered(client, app, api):
    refunded, refunded_body = pay(api, app)
    api.post(
        f"{PAYMENTS}/{refunded.json['paymentId']}/refunds", json={"amount": 100}, headers={"Idempotency-Key": "r1"}
    )
    old, old_body = pay(api, app)
    with app.app_context():
        db.session.execute(
            sa.update(Payment)
            .where(Payment.payment_id == old.json["paymentId"])
            .values(created_at=clock.now() - timedelta(days=91))
        )
        db.session.commit()
    sign_in(client, app)
    text = page(client.get("/rewards/purchases"))
    assert refunded_body["merchantReference"] not in text and old_body["merchantReference"] not in text
    assert "There are no purchases on this card to use points on right now" in text


def test_redeeming_on_the_site_credits_the_purchase_on_the_statement_through_the_same_ledger(client, app, api):
    paid, body = pay(api, app)
    sign_in(client, app)
    response = client.post("/rewards/purchases", data={"purchase": paid.json["paymentId"], "points": 50000})
    assert response.status_code == 302 and "/rewards/redeemed/RDM-" in response.location
    text = page(client.get(response.location))
    assert "50,000 points became a statement credit of <strong>HK$200.00</strong>" in text
    assert f"Rewards site credit: Harbour Mall {body['merchantReference']}" in text
    assert points_of(app) == 70_000
    with app.app_context():
        redemption = db.session.scalars(sa.select(Redemption)).one()
        assert (redemption.channel, redemption.transaction_reference) == ("BANK_SITE", body["merchantReference"])
        assert redemption.partner_client_id == db.session.scalar(
            sa.select(PartnerClient.id).where(PartnerClient.client_id == "harbour-mall")
        )
        assert redemption.payment_id == db.session.scalar(
            sa.select(Payment.id).where(Payment.payment_id == paid.json["paymentId"])
        )
        line = db.session.scalars(sa.select(CardStatementLine).where(CardStatementLine.kind == "POINTS_CREDIT")).one()
        assert (line.amount_cents, line.merchant_name, line.reference) == (
            -20000,
            "Harbour Mall",
            body["merchantReference"],
        )
        assert ledger.check_ledger() == []
    assert paid.json["paymentId"] not in page(client.get("/rewards/purchases"))  # redeemed: no longer offered


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (500, "Redeem at least 1000 points."),
        (1010, "Redeem points in multiples of 25."),
        (150_000, "You do not have that many points."),
        ("lots", "Enter the points as a whole number, e.g. 25000."),
        ("", "Enter how many points to redeem."),
    ],
)
def test_the_sites_redemption_keeps_the_partner_apis_rules(client, app, api, points, message):
    paid, _ = pay(api, app, amount=100_000)
    sign_in(client, app)
    response = client.post("/rewards/purchases", data={"purchase": paid.json["paymentId"], "points": points})
    assert response.status_code == 422 and message in page(response)
    assert points_of(app) == 120_000


def test_points_worth_more_than_the_purchase_are_refused(client, app, api):
    paid, _ = pay(api, app, amount=5000)  # HK$50 = 12,500 points
    sign_in(client, app)
    response = client.post("/rewards/purchases", data={"purchase": paid.json["paymentId"], "points": 12_525})
    assert response.status_code == 422 and "more than the transaction amount" in page(response)


def test_a_purchase_is_redeemed_once_across_both_doors(client, app, api):
    paid, body = pay(api, app)
    sign_in(client, app)
    client.post("/rewards/purchases", data={"purchase": paid.json["paymentId"], "points": 25000})
    again = client.post("/rewards/purchases", data={"purchase": paid.json["paymentId"], "points": 25000})
    assert again.status_code == 422 and "Points were already redeemed against that purchase." in page(again)
    at_checkout = redeem_at_checkout(api, app, body["merchantReference"], 25000)
    assert (at_checkout.status_code, at_checkout.json["code"]) == (409, "transactionAlreadyRedeemed")
    look_up = api.get(f"/v1/apac/rewards/redemption?transactionReferenceNumber={body['merchantReference']}")
    assert look_up.status_code == 404  # the merchant does not see what was redeemed on the bank's site
    assert points_of(app) == 95_000


def test_a_purchase_redeemed_at_checkout_is_not_offered_on_the_site_and_cannot_be_redeemed_there(client, app, api):
    paid, body = pay(api, app, flow="native")
    assert redeem_at_checkout(api, app, body["merchantReference"], 25000).status_code == 200
    sign_in(client, app)
    assert body["merchantReference"] not in page(client.get("/rewards/purchases"))
    with app.app_context():
        code = db.session.scalar(sa.select(RewardLink.code).where(RewardLink.status == "ACTIVE", RewardLink.id > 1))
        site_id = db.session.scalar(sa.select(PartnerClient.id).where(PartnerClient.client_id == BANK_SITE_CLIENT_ID))
        with pytest.raises(redemptions.PurchaseAlreadyRedeemed, match="already redeemed"):
            redemptions._refuse_redeemed(
                redemptions._lock_site_purchase(site_id, code, paid.json["paymentId"], clock.now())[1]
            )
        db.session.rollback()


# --- One bank chrome, two looks ---------------------------------------------------------------------


def test_the_console_and_the_rewards_site_share_one_header_partial_but_not_their_look(client, app):
    from pathlib import Path

    templates = Path(app.root_path).parent / "templates" / "issuer"
    for layout in ("base.html", "rewards/base.html"):
        source = (templates / layout).read_text()
        assert '{% from "issuer/_bank_chrome.html" import' in source and "<svg" not in source, layout
    site = page(client.get("/rewards/"))
    assert "issuer/rewards.css" in site and "issuer/console.css" not in site
    assert '<header class="rw-header">' in site and 'class="rw-brand-sub">Rewards</span>' in site
    assert "Sandbox console" not in site and 'class="sidenav"' not in site
    client.post("/login", data={"password": "demo"})
    console = page(client.get("/"))
    assert "issuer/console.css" in console and "issuer/rewards.css" not in console
    assert '<header class="site-header">' in console and 'class="brand-sub">Sandbox console</span>' in console
    assert "<strong>SANDBOX</strong>" in console


def test_the_rewards_sites_flash_messages_keep_their_own_classes(client, app):
    sign_in(client, app)
    response = client.post("/rewards/sign-out", follow_redirects=True)
    assert response.status_code == 200
    flashed = '<div class="rw-flashes" role="status"> <p class="rw-flash rw-flash-success">You are signed out.</p>'
    assert flashed in page(response)
