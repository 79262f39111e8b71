"""Helpers for the old flow's tests: gateway payments in a flow, the SMS outbox, and a sign-in on the bank's site."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

from issuer_sandbox import clock, ledger
from issuer_sandbox.extensions import db
from issuer_sandbox.models import Card, SmsMessage
from issuer_sandbox.otp import otp_in_sms

PAYMENTS = "/gateway/v1/payments"
HAPPY = "4966010000008741"  # 120,000 points; mobile 9123 4567
HAPPY_PHONE = "91234567"
LOW = "4966010000000102"  # 800 points; mobile 9234 5678
DEBIT = "4966030000004300"
OTHER_BANK = "4242424242424242"
NO_SMS = "4966010000007909"  # SMS undeliverable; mobile 9000 0000


def pay(api, app, number: str = HAPPY, amount: int = 52000, reference: str | None = None, flow: str | None = "legacy"):
    """A gateway payment; ``flow`` None leaves payWithPointsFlow out (as every merchant did before it existed)."""
    with app.app_context():
        year = clock.now().year + 3
    body = {
        "amount": amount,
        "currency": "HKD",
        "card": {"number": number, "expiryMonth": 12, "expiryYear": year, "cvc": "123", "holderName": "T"},
        "merchantReference": reference or f"HM-{uuid.uuid4().hex[:8]}",
    }
    if flow is not None:
        body["payWithPointsFlow"] = flow
    return api.post(PAYMENTS, json=body, headers={"Idempotency-Key": uuid.uuid4().hex}), body


def outbox(app, phone: str = HAPPY_PHONE) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(SmsMessage.body).where(SmsMessage.phone == phone).order_by(SmsMessage.id.desc())
            )
        )


def latest_otp(app, phone: str = HAPPY_PHONE) -> str:
    return next(code for body in outbox(app, phone) if (code := otp_in_sms(body)))


def points_of(app, number: str = HAPPY) -> int:
    with app.app_context():
        return ledger.balance_of(db.session.scalar(sa.select(Card).where(Card.number == number)))


def sign_in(client, app, last4: str = "8741", mobile: str = "9123 4567", phone: str = HAPPY_PHONE):
    response = client.post("/rewards/", data={"last4": last4, "mobile": mobile})
    assert response.status_code == 302 and response.location.endswith("/rewards/verify"), response.get_data(True)
    response = client.post("/rewards/verify", data={"code": latest_otp(app, phone)})
    assert response.status_code == 302 and response.location.endswith("/rewards/purchases")


def page(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def redeem_at_checkout(api, app, reference: str, points: int, amount: str = "520.00", card_last4: str = "8741"):
    """A redemption through the partner API on an ACTIVE link made straight in the database (the native door)."""
    from issuer_sandbox.models import PartnerClient, RewardLink

    with app.app_context():
        code = f"RL-{uuid.uuid4().hex}"
        partner_id = db.session.scalar(sa.select(PartnerClient.id).where(PartnerClient.client_id == api.client_id))
        card_id = db.session.scalar(sa.select(Card.id).where(Card.last4 == card_last4))
        db.session.add(
            RewardLink(
                code=code,
                partner_client_id=partner_id,
                merchant_customer_reference="C-1",
                card_id=card_id,
                status="ACTIVE",
                failed_attempts=0,
                resends_used=0,
                created_at=clock.now(),
            )
        )
        db.session.commit()
    order = {
        "transactionAmount": amount,
        "currencyCode": "HKD",
        "pointsToRedeem": points,
        "transactionDescription": "x",
    }
    return api.post(
        f"/v1/apac/rewards/{code}/redemption",
        json={"transactionReferenceNumber": reference, "redemptionOrder": order},
    )
