"""Pay with Points rules: the points maths, and the link/OTP steps against the fake bank."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from shop.checkout import card_link as link_rules
from shop.checkout import offer as offer_rules
from shop.checkout import points as points_rules
from shop.extensions import db
from shop.issuer_client import (
    AccountNotFound,
    Balance,
    InvalidOtp,
    IssuerUnavailable,
    NotEligibleToRedeem,
    OtpDeliveryFailed,
    OtpExpired,
    OtpLocked,
    OtpResendTooSoon,
)
from shop.models import CardLink, Order, PwpEvent, User

from .fakes import FakeIssuerClient
from .support import bank_refusal


def balance(
    available: int = 120_000,
    rate: str = "0.004",
    increment: int = 25,
    minimum: int = 1000,
    maximum: int | None = None,
    eligible: bool = True,
) -> Balance:
    return Balance(
        is_redemption_eligible=eligible,
        available_points=available,
        conversion_rate=Decimal(rate),
        currency_code="HKD",
        increment=increment,
        minimum=minimum,
        maximum=available if maximum is None else maximum,
    )


# --- Maths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bal", "total_cents", "expected"),
    [
        # Rewards: 250 points = HK$1. HK$520 allows 130,000 points but the balance caps at 120,000.
        (balance(), 52_000, 120_000),
        # HK$200 -> 50,000 points exactly.
        (balance(), 20_000, 50_000),
        # HK$123.45 -> 30,862.5 points -> floor to the 25 increment = 30,850.
        (balance(), 12_345, 30_850),
        # The bank's maximumPointsToRedeem caps too.
        (balance(maximum=40_000), 52_000, 40_000),
        # Premier: 200 points = HK$1, increment 20: HK$99.99 -> 19,998 -> 19,980.
        (balance(2_000_000, "0.005", 20), 9_999, 19_980),
        (balance(2_000_000, "0.005", 20), 52_000, 104_000),
        # A balance that is not a whole increment is floored to one.
        (balance(1_010), 52_000, 1_000),
        # Nothing to redeem against.
        (balance(), 0, 0),
    ],
)
def test_max_points_for_order_is_capped_by_order_total_balance_and_bank_maximum(bal, total_cents, expected):
    assert offer_rules.max_points_for_order(bal, total_cents) == expected


@pytest.mark.parametrize(
    ("points", "rate", "credit"),
    [
        (50_000, "0.004", 20_000),
        (25, "0.004", 10),
        (1_000, "0.004", 400),
        (20, "0.005", 10),
        (104_000, "0.005", 52_000),
    ],
)
def test_statement_credit_is_points_times_rate_in_cents(points, rate, credit):
    assert offer_rules.credit_cents(points, Decimal(rate)) == credit


def test_offer_shows_the_credit_and_net_cost_for_a_choice():
    offer = offer_rules.make_offer(balance(), 52_000)
    assert offer.eligible
    assert offer.maximum == 120_000
    assert offer.credit_for(50_000) == 20_000
    assert offer.net_cost_for(50_000) == 32_000
    assert offer.balance_value_cents == 48_000


@pytest.mark.parametrize(
    ("bal", "total_cents"),
    [
        (balance(800), 52_000),  # below the 1,000-point minimum
        (balance(eligible=False), 52_000),  # the bank says no
        (balance(), 300),  # HK$3 allows only 750 points, under the minimum
    ],
)
def test_offer_is_not_eligible_below_the_minimum_or_when_the_bank_says_no(bal, total_cents):
    assert not offer_rules.make_offer(bal, total_cents).eligible


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (975, "at least 1,000"),
        (50_010, "steps of 25"),
        (120_025, "at most 120,000"),
        (-25, "at least 1,000"),
    ],
)
def test_invalid_point_choices_are_refused_with_a_reason(points, message):
    offer = offer_rules.make_offer(balance(), 52_000)
    with pytest.raises(offer_rules.InvalidPoints, match=message):
        offer_rules.validate_points(points, offer)


@pytest.mark.parametrize("points", [1_000, 1_025, 50_000, 120_000])
def test_valid_point_choices_pass(points):
    assert offer_rules.validate_points(points, offer_rules.make_offer(balance(), 52_000)) == points


def test_premier_choices_move_in_steps_of_twenty():
    offer = offer_rules.make_offer(balance(2_000_000, "0.005", 20), 52_000)
    assert offer_rules.validate_points(1_020, offer) == 1_020
    with pytest.raises(offer_rules.InvalidPoints, match="steps of 20"):
        offer_rules.validate_points(1_025, offer)


# --- Steps against the fake bank -----------------------------------------------------------------


@pytest.fixture
def paid_order(app):
    """A paid order of Chan Tai Man's with the happy card, built directly (the order rules are tested apart)."""
    from datetime import datetime

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "chan.taiman@example.com"))
        order = Order(
            reference="HM-100001",
            user_id=user.id,
            status="PAID",
            subtotal_cents=52_000,
            delivery_fee_cents=0,
            total_cents=52_000,
            recipient_name="Chan Tai Man",
            recipient_phone="91234567",
            address_line="1 Harbour Road",
            district="Wan Chai",
            card_last4="8741",
            card_brand="VISA",
            payment_id="PAY-1",
            card_points_eligible=True,
            card_issued_by_summit=True,
            created_at=datetime(2026, 11, 26),
        )
        db.session.add(order)
        db.session.commit()
        return order.id


def events(order_id: int) -> list[tuple[str, str]]:
    return [(e.kind, e.code) for e in db.session.scalars(sa.select(PwpEvent).where(PwpEvent.order_id == order_id))]


def test_first_time_shopper_is_sent_a_code_and_verifies_it(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        assert points_rules.show_offer(order, link_rules.card_link(order)) == "enrol"
        link = link_rules.send_code(order, "91234567", fake)
        assert link.status == "PENDING_ACTIVATION"
        assert link.masked_phone == "****4567"
        assert fake.calls_to("enroll") == [
            {
                "last4": "8741",
                "phone": "91234567",
                "customer_reference": order.user.customer_reference,
                "language": "en",
            }
        ]
        link_rules.verify_code(order, fake.last_otp("91234567"), fake)
        assert link_rules.active_link(order) is not None
        assert points_rules.show_offer(order, link_rules.card_link(order)) == "balance"
        assert events(order.id) == [("offer_shown", ""), ("code_sent", ""), ("verified", "")]


def test_a_wrong_code_says_how_many_attempts_are_left_and_is_recorded(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        link_rules.send_code(order, "91234567", fake)
        with bank_refusal(InvalidOtp) as caught:
            link_rules.verify_code(order, "000000" if fake.last_otp("91234567") != "000000" else "111111", fake)
        assert caught.value.attempts_remaining == 4
        assert caught.value.__cause__.attempts_remaining == 4
        assert ("failed", "invalidLinkageConfirmationCode") in events(order.id)


def test_five_wrong_codes_lock_the_link_and_the_next_attempt_enrols_again(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        link_rules.send_code(order, "91234567", fake)
        wrong = "000000" if fake.last_otp("91234567") != "000000" else "111111"
        for _ in range(4):
            with bank_refusal(InvalidOtp):
                link_rules.verify_code(order, wrong, fake)
        with bank_refusal(OtpLocked):
            link_rules.verify_code(order, wrong, fake)
        assert link_rules.card_link(order) is None
        assert link_rules.send_code(order, "91234567", fake).status == "PENDING_ACTIVATION"


def test_an_expired_code_is_refused(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        link_rules.send_code(order, "91234567", fake)
        fake.advance(minutes=6)
        with bank_refusal(OtpExpired):
            link_rules.verify_code(order, fake.last_otp("91234567"), fake)


def test_a_resend_inside_the_cooldown_is_refused_and_after_it_sends_a_new_code(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        link_rules.send_code(order, "91234567", fake)
        first = fake.last_otp("91234567")
        with bank_refusal(OtpResendTooSoon):
            link_rules.resend_code(order, fake)
        fake.advance(seconds=31)
        link_rules.resend_code(order, fake)
        assert len(fake.sms) == 2
        link_rules.verify_code(order, fake.last_otp("91234567"), fake)
        assert first is not None


@pytest.mark.parametrize(
    ("last4", "phone", "error"),
    [
        ("8741", "99999999", AccountNotFound),
        ("7404", "95678901", NotEligibleToRedeem),
        ("7909", "90000000", OtpDeliveryFailed),
    ],
)
def test_enrolment_failures_are_raised_and_recorded_with_the_bank_code(app, paid_order, last4, phone, error):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        order.card_last4 = last4
        db.session.commit()
        with bank_refusal(error):
            link_rules.send_code(order, phone, fake)
        assert events(order.id)[-1][0] == "failed"
        assert link_rules.card_link(order) is None


def test_a_returning_shopper_with_an_active_link_gets_no_code(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        link = link_rules.send_code(order, "91234567", fake)
        link_rules.verify_code(order, fake.last_otp("91234567"), fake)
        # The bank returns the ACTIVE link for the same merchant customer, without an SMS.
        again = link_rules.send_code(order, "91234567", fake)
        assert again.status == "ACTIVE" and again.reward_link_code == link.reward_link_code
        assert len(fake.sms) == 1


def test_the_offer_reads_the_live_balance(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        link_rules.send_code(order, "91234567", fake)
        link_rules.verify_code(order, fake.last_otp("91234567"), fake)
        offer = points_rules.points_offer(order, fake)
        assert (offer.available_points, offer.maximum, offer.minimum, offer.increment) == (120_000, 120_000, 1000, 25)


def test_a_link_the_bank_forgot_is_dropped_so_the_shopper_verifies_again(app, paid_order):
    fake = FakeIssuerClient()
    with app.app_context():
        order = db.session.get(Order, paid_order)
        link_rules.send_code(order, "91234567", fake)
        link_rules.verify_code(order, fake.last_otp("91234567"), fake)
        fake.links.clear()  # the sandbox was reset
        with pytest.raises(link_rules.NoActiveLink):
            points_rules.points_offer(order, fake)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CardLink)) == 0


def test_the_bank_being_down_is_raised_as_unavailable_and_recorded(app, paid_order):
    fake = FakeIssuerClient()
    fake.down = True
    with app.app_context():
        order = db.session.get(Order, paid_order)
        with bank_refusal(IssuerUnavailable):
            link_rules.send_code(order, "91234567", fake)
        assert events(order.id)[-1] == ("failed", "issuerUnavailable")


def test_skipping_is_recorded_once(app, paid_order):
    with app.app_context():
        order = db.session.get(Order, paid_order)
        points_rules.skip_points(order)
        points_rules.skip_points(order)
        assert events(order.id) == [("skipped", "")]


def test_points_are_not_offered_on_an_unpaid_or_ineligible_order(app, paid_order):
    with app.app_context():
        order = db.session.get(Order, paid_order)
        order.card_points_eligible = False
        with pytest.raises(link_rules.PointsNotOffered):
            points_rules.show_offer(order, None)
        order.card_points_eligible = True
        order.status = "PENDING_PAYMENT"
        with pytest.raises(link_rules.PointsNotOffered):
            points_rules.show_offer(order, None)
