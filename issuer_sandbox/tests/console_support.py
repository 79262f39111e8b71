"""Helpers for the console tests: sign in, read a form's CSRF token, and drive the partner API for real data."""

from __future__ import annotations

import re

import sqlalchemy as sa

from issuer_sandbox.extensions import db
from issuer_sandbox.models import SmsMessage

# Every console page a signed-out visitor must be sent away from.
CONSOLE_PAGES = [
    "/",
    "/ledger",
    "/cards",
    "/cards/8741",
    "/cardholders/new",
    "/phone",
    "/phone?phone=91234567",
    "/links",
    "/requests",
    "/insights",
    "/controls",
    "/reference",
]


def sign_in(client, password: str = "demo"):
    return client.post("/login", data={"password": password})


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def latest_otp(app, phone: str) -> str:
    with app.app_context():
        body = db.session.scalar(
            sa.select(SmsMessage.body).where(SmsMessage.phone == phone).order_by(SmsMessage.id.desc())
        )
    return re.search(r"\b(\d{6})\b", body).group(1)


def enrol(api, last4: str = "8741", phone: str = "91234567", customer: str = "C-1001") -> str:
    response = api.post(
        "/v1/apac/rewards/linkage",
        json={
            "lastFourDigitsCardNumber": last4,
            "citiCardHolderPhoneNumber": phone,
            "merchantCustomerReferenceId": customer,
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["rewardLinkCode"]


def enrol_and_activate(api, app, last4: str = "8741", phone: str = "91234567", customer: str = "C-1001") -> str:
    code = enrol(api, last4, phone, customer)
    response = api.put(f"/v1/apac/rewards/{code}/activations", json={"linkageConfirmationCode": latest_otp(app, phone)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return code


def pay(api, number: str = "4966010000008741", amount: int = 52000, reference: str = "HM-000123"):
    response = api.post(
        "/gateway/v1/payments",
        json={
            "amount": amount,
            "currency": "HKD",
            "card": {
                "number": number,
                "expiryMonth": 12,
                "expiryYear": 2035,
                "cvc": "123",
                "holderName": "CHAN TAI MAN",
            },
            "merchantReference": reference,
        },
        headers={"Idempotency-Key": f"{reference}-pay"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def redeem(api, code: str, points: int = 50_000, amount: str = "520.00", reference: str = "HM-000123"):
    response = api.post(
        f"/v1/apac/rewards/{code}/redemption",
        json={
            "transactionReferenceNumber": reference,
            "redemptionOrder": {
                "transactionAmount": amount,
                "currencyCode": "HKD",
                "pointsToRedeem": points,
                "transactionDescription": f"Harbour Mall order {reference}",
            },
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json
