"""GET /v1/apac/rewards/{rewardLinkCode}/pointBalance and the balance rules behind it."""

import pytest
import sqlalchemy as sa

from issuer_sandbox import clock, ledger, redemptions
from issuer_sandbox.extensions import db
from issuer_sandbox.links import LinkNotFound
from issuer_sandbox.models import Programme

from .redemption_support import (
    DEBIT,
    FROZEN,
    HAPPY,
    LOW,
    OTHER_CLIENT_ID,
    PREMIER,
    balance_path,
    card_ending,
    make_link,
    partner_api,
    partner_id,
    set_card_status,
)


def test_the_happy_card_shows_the_documented_balance(app):
    response = partner_api(app).get(balance_path(make_link(app, HAPPY)))
    assert response.status_code == 200
    assert response.json == {
        "isRedemptionEligible": True,
        "availablePointBalance": 120_000,
        "programConversionRate": "0.004",
        "currencyCode": "HKD",
        "redemptionPointIncrement": 25,
        "minimumPointsToRedeem": 1000,
        "maximumPointsToRedeem": 120_000,
    }


def test_the_premier_card_shows_its_own_rate_and_is_capped_by_the_programme_maximum(app):
    body = partner_api(app).get(balance_path(make_link(app, PREMIER))).json
    assert body["availablePointBalance"] == 2_000_000
    assert body["programConversionRate"] == "0.005"
    assert body["redemptionPointIncrement"] == 20
    assert body["maximumPointsToRedeem"] == 1_000_000


def test_the_maximum_is_the_balance_rounded_down_to_the_increment(app):
    with app.app_context():
        ledger.adjust_points(card_ending(HAPPY), 24, "odd balance", clock.now())
        db.session.commit()
    body = partner_api(app).get(balance_path(make_link(app, HAPPY))).json
    assert body["availablePointBalance"] == 120_024
    assert body["maximumPointsToRedeem"] == 120_000


def test_a_card_below_the_minimum_is_not_eligible_but_still_shows_its_points(app):
    body = partner_api(app).get(balance_path(make_link(app, LOW))).json
    assert body["isRedemptionEligible"] is False
    assert body["availablePointBalance"] == 800


def test_a_frozen_card_is_not_eligible(app):
    body = partner_api(app).get(balance_path(make_link(app, FROZEN))).json
    assert body["isRedemptionEligible"] is False
    assert body["availablePointBalance"] == 50_000


def test_freezing_a_linked_card_turns_eligibility_off(app):
    api = partner_api(app)
    code = make_link(app, HAPPY)
    set_card_status(app, HAPPY, "FROZEN")
    assert api.get(balance_path(code)).json["isRedemptionEligible"] is False


@pytest.mark.parametrize(
    ("status", "http_status", "code"),
    [
        ("PENDING_ACTIVATION", 422, "inactiveRewardLinkCode"),
        ("LOCKED", 422, "inactiveRewardLinkCode"),
        ("UNLINKED", 404, "invalidRewardLinkCode"),
    ],
)
def test_a_link_that_is_not_active_has_no_balance(app, status, http_status, code):
    response = partner_api(app).get(balance_path(make_link(app, HAPPY, status=status)))
    assert response.status_code == http_status
    assert response.json["code"] == code


def test_an_unknown_link_code_is_not_found(app):
    response = partner_api(app).get(balance_path("RL-no-such-link"))
    assert response.status_code == 404
    assert response.json == {
        "type": "error",
        "code": "invalidRewardLinkCode",
        "details": "The rewardLinkCode is unknown to this client or no longer linked.",
    }


def test_another_partners_link_is_not_found(app):
    code = make_link(app, HAPPY, client_id=OTHER_CLIENT_ID)
    response = partner_api(app).get(balance_path(code))
    assert response.status_code == 404
    assert response.json["code"] == "invalidRewardLinkCode"
    assert partner_api(app, OTHER_CLIENT_ID).get(balance_path(code)).status_code == 200


def test_the_balance_needs_a_bearer_token(app):
    response = app.test_client().get(balance_path(make_link(app, HAPPY)), headers={"uuid": "abc"})
    assert response.status_code == 401


def test_the_balance_answers_only_get(app):
    response = partner_api(app).put(balance_path(make_link(app, HAPPY)), json={})
    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"


# --- The rules, called directly -------------------------------------------------------------------


def test_point_balance_raises_link_not_found_for_another_partner(app):
    code = make_link(app, HAPPY, client_id=OTHER_CLIENT_ID)
    with app.app_context(), pytest.raises(LinkNotFound, match=code):
        redemptions.point_balance(partner_id(), code)


def test_point_balance_raises_inactive_link_for_a_pending_link(app):
    code = make_link(app, HAPPY, status="PENDING_ACTIVATION")
    with app.app_context(), pytest.raises(redemptions.InactiveLink, match="PENDING_ACTIVATION, not ACTIVE"):
        redemptions.point_balance(partner_id(), code)


def test_point_balance_refuses_a_card_outside_any_programme(app):
    code = make_link(app, DEBIT)
    with app.app_context(), pytest.raises(redemptions.NotEligibleToRedeem, match="not in a points programme"):
        redemptions.point_balance(partner_id(), code)


@pytest.mark.parametrize(
    ("balance", "cap", "expected"),
    [
        (120_000, 1_000_000, 120_000),
        (120_024, 1_000_000, 120_000),
        (2_000_000, 1_000_000, 1_000_000),
        (2_000_000, 999_990, 999_975),
        (24, 1_000_000, 0),
        (0, 1_000_000, 0),
    ],
)
def test_the_redeemable_maximum_is_capped_and_on_the_increment(app, balance, cap, expected):
    with app.app_context():
        programme = db.session.scalar(sa.select(Programme).where(Programme.code == "REWARDS"))
        programme.maximum_points_per_redemption = cap
        assert redemptions.redeemable_maximum(balance, programme) == expected
        db.session.rollback()
