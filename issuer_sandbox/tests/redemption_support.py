"""Helpers for the balance, redemption, reversal and concurrency tests.

Links are created ACTIVE straight in the database and tokens are signed directly, so these tests
exercise the money rules without depending on the enrol/OTP and token endpoints.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.security import generate_password_hash

from issuer_sandbox import clock, ledger
from issuer_sandbox.extensions import db
from issuer_sandbox.models import (
    Card,
    CardStatementLine,
    LedgerEntry,
    PartnerClient,
    Redemption,
    RedemptionReversal,
    RewardLink,
)
from issuer_sandbox.tokens import AuthenticatedClient, Partner, issue_token

from .conftest import CLIENT_ID, PartnerApi

HAPPY = "8741"  # 120,000 points, Rewards: 0.004 per point, increment 25, minimum 1,000
LOW = "0102"  # 800 points
PREMIER = "1190"  # 2,000,000 points, Premier: 0.005 per point, increment 20
DEBIT = "4300"  # no programme
FROZEN = "7404"  # 50,000 points, frozen
OTHER_CLIENT_ID = "other-mall"


def card_ending(last4: str) -> Card:
    return db.session.scalar(sa.select(Card).where(Card.last4 == last4))


def partner_id(client_id: str = CLIENT_ID) -> int:
    return db.session.scalar(sa.select(PartnerClient.id).where(PartnerClient.client_id == client_id))


def ensure_other_partner(app: Flask) -> None:
    """A second merchant, to prove one partner cannot see another's links and redemptions."""
    with app.app_context():
        if partner_id(OTHER_CLIENT_ID) is None:
            db.session.add(
                PartnerClient(
                    client_id=OTHER_CLIENT_ID,
                    secret_hash=generate_password_hash("other-mall-secret"),
                    merchant_name="Other Mall",
                    created_at=clock.now(),
                )
            )
            db.session.commit()


def partner_api(app: Flask, client_id: str = CLIENT_ID) -> PartnerApi:
    """A PartnerApi on a fresh test client, with a bearer token signed directly (no token call)."""
    if client_id == OTHER_CLIENT_ID:
        ensure_other_partner(app)
    with app.app_context():
        row = db.session.scalars(sa.select(PartnerClient).where(PartnerClient.client_id == client_id)).one()
        client = AuthenticatedClient(Partner(row.id, row.client_id, row.merchant_name), row.secret_hash, row.created_at)
        token = issue_token(app.config["SECRET_KEY"], client, clock.now(), 2 * 3600)
        db.session.rollback()
    api = PartnerApi(app.test_client(), client_id=client_id)
    api._token = token
    return api


def make_link(
    app: Flask, last4: str = HAPPY, status: str = "ACTIVE", client_id: str = CLIENT_ID, customer: str = "C-1001"
) -> str:
    """A reward link in the given state, created directly; returns its rewardLinkCode."""
    if client_id == OTHER_CLIENT_ID:
        ensure_other_partner(app)
    code = "RL-" + secrets.token_urlsafe(24)
    with app.app_context():
        now = clock.now()
        db.session.add(
            RewardLink(
                code=code,
                partner_client_id=partner_id(client_id),
                merchant_customer_reference=customer,
                card_id=card_ending(last4).id,
                status=status,
                created_at=now,
                activated_at=now if status == "ACTIVE" else None,
                unlinked_at=now if status == "UNLINKED" else None,
            )
        )
        db.session.commit()
    return code


def set_link_status(app: Flask, code: str, status: str) -> None:
    with app.app_context():
        link = db.session.scalar(sa.select(RewardLink).where(RewardLink.code == code))
        link.status = status
        db.session.commit()


def set_card_status(app: Flask, last4: str, status: str) -> None:
    with app.app_context():
        card_ending(last4).status = status
        db.session.commit()


def points_of(app: Flask, last4: str = HAPPY) -> int:
    with app.app_context():
        return ledger.balance_of(card_ending(last4))


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def money_snapshot(app: Flask) -> tuple:
    """Every balance, ledger entry count, statement line count, redemption and reversal count, outstanding."""
    with app.app_context():
        balances = tuple(db.session.execute(sa.text("SELECT id, balance FROM ledger_accounts ORDER BY id")).all())
        outstanding = tuple(db.session.execute(sa.text("SELECT id, outstanding_cents FROM cards ORDER BY id")).all())
    counts = tuple(count(app, model) for model in (LedgerEntry, CardStatementLine, Redemption, RedemptionReversal))
    return balances, outstanding, counts


def redemption_body(
    reference: str = "HM-000123",
    points: Any = 50_000,
    amount: Any = "520.00",
    currency: Any = "HKD",
    description: Any = "Harbour Mall order HM-000123",
) -> dict[str, Any]:
    return {
        "transactionReferenceNumber": reference,
        "redemptionOrder": {
            "transactionAmount": amount,
            "currencyCode": currency,
            "pointsToRedeem": points,
            "transactionDescription": description,
        },
    }


def redeem_path(code: str) -> str:
    return f"/v1/apac/rewards/{code}/redemption"


def balance_path(code: str) -> str:
    return f"/v1/apac/rewards/{code}/pointBalance"


REVERSALS_PATH = "/v1/apac/rewards/redemption/reversals"


def check_ledger(app: Flask) -> list[str]:
    with app.app_context():
        return ledger.check_ledger()
