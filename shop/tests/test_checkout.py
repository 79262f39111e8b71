"""Checkout through the test client with the fake bank: delivery, card payment and the Pay with Points steps."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.issuer_client import IssuerUnavailable, OutcomeUnknown
from shop.models import CardLink, Order, PwpEvent

HAPPY = "4966 0100 0000 8741"


def text(response) -> str:
    return response.get_data(as_text=True)


def order(app, reference: str) -> Order:
    with app.app_context():
        found = db.session.scalar(sa.select(Order).where(Order.reference == reference))
        db.session.expunge(found)
        return found


def event_kinds(app, reference: str) -> list[str]:
    with app.app_context():
        order_id = db.session.scalar(sa.select(Order.id).where(Order.reference == reference))
        return list(db.session.scalars(sa.select(PwpEvent.kind).where(PwpEvent.order_id == order_id)))


# --- Delivery -----------------------------------------------------------------------------------


def test_checkout_asks_a_signed_out_shopper_to_sign_in(client):
    response = client.get("/checkout")
    assert response.status_code == 302
    assert "/account/sign-in" in response.headers["Location"]


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(checkout, client):
    response = client.get("/checkout")
    assert response.headers["Location"].endswith("/cart")


def test_the_delivery_form_is_prefilled_from_the_account(checkout, client):
    checkout.add_to_cart()
    page = text(client.get("/checkout"))
    assert 'value="Chan Tai Man"' in page and 'value="91234567"' in page
    assert "Continue to payment" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter the name of the recipient."),
        ("phone", "1234", "Enter an 8-digit Hong Kong mobile number."),
        ("address", "", "Enter the delivery address."),
        ("district", "Atlantis", "Choose a district."),
    ],
)
def test_delivery_details_are_validated(checkout, client, field, value, message):
    checkout.add_to_cart()
    response = checkout.deliver(**{field: value})
    assert response.status_code == 200
    assert message in text(response)


def test_delivery_details_create_the_order_and_empty_the_cart(checkout, app, client):
    reference = checkout.start_order()
    saved = order(app, reference)
    assert (saved.status, saved.total_cents, saved.district) == ("PENDING_PAYMENT", 52_000, "Wan Chai")
    assert 'data-testid="cart-count">0<' in text(client.get("/cart"))


# --- Card payment -------------------------------------------------------------------------------


def test_the_payment_page_has_the_card_fields_and_the_pay_button(checkout, client):
    reference = checkout.start_order()
    page = text(client.get(f"/checkout/{reference}/payment"))
    for label in ("Card number", "Expiry (MM/YY)", "CVC", "Name on card"):
        assert f">{label}</label>" in page
    assert 'value="Pay now"' in page
    assert "HK$520.00" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("card_number", "4966 0100 0000 8742", "That card number is not valid: check the digits."),
        ("card_number", "1234", "Enter the 12 to 19 digits of the card number."),
        ("card_number", "", "Enter the card number."),
        ("expiry", "13/30", "Enter the expiry as MM/YY."),
        ("expiry", "01/20", "This card has expired."),
        ("cvc", "12", "The CVC is the 3 or 4 digits on the back of the card."),
        ("holder_name", "", "Enter the name on the card."),
    ],
)
def test_card_details_are_checked_before_anything_is_charged(checkout, client, fake_issuer, field, value, message):
    reference = checkout.start_order()
    response = checkout.pay(reference, **{field: value})
    assert response.status_code == 200
    assert message in text(response)
    assert fake_issuer.calls_to("pay") == []


def test_a_rejected_card_number_is_not_written_back_into_the_page(checkout, client):
    reference = checkout.start_order()
    response = checkout.pay(reference, cvc="12")
    assert "4966" not in text(response) and "8741" not in text(response)


def test_paying_with_a_points_card_leads_to_the_points_step(checkout, app, client, fake_issuer):
    reference = checkout.start_order()
    response = checkout.pay(reference)
    assert response.headers["Location"] == f"/checkout/{reference}/points"
    saved = order(app, reference)
    assert (saved.status, saved.card_last4, saved.card_points_eligible) == ("PAID", "8741", True)
    assert fake_issuer.calls_to("pay")[0]["idempotency_key"] == f"{reference}-P1"
    assert event_kinds(app, reference) == ["card_paid_eligible"]


def database_text() -> str:
    """Every value in every table, one row a line: what a copy of the database would give away."""
    return "\n".join(
        "|".join(str(value) for value in row)
        for table in db.metadata.sorted_tables
        for row in db.session.execute(sa.select(table))
    )


def test_the_card_number_and_cvc_are_never_stored_in_the_database_session_or_logs(checkout, app, client, caplog):
    caplog.set_level(logging.DEBUG)
    reference = checkout.start_order()
    checkout.pay(reference, cvc="987")
    with app.app_context():
        dump = database_text()
    assert "4966010000008741" not in dump and "8741" in dump
    # As a value of its own: salted password hashes and timestamps may contain the digits by chance.
    assert not re.search(r"(?<![\w.:-])987(?![\w.:-])", dump.replace(reference, ""))
    with client.session_transaction() as session:
        assert "4966" not in repr(dict(session)) and "987" not in repr(dict(session))
    assert "4966010000008741" not in caplog.text and "4966 0100" not in caplog.text


def test_refreshing_the_payment_page_of_a_paid_order_never_charges_again(checkout, client, fake_issuer):
    reference = checkout.start_order()
    checkout.pay(reference)
    response = client.get(f"/checkout/{reference}/payment")
    assert response.headers["Location"] == f"/checkout/{reference}/points"
    response = checkout.pay(reference)  # the back button and a resubmitted form
    assert response.status_code == 302
    assert len(fake_issuer.calls_to("pay")) == 1


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("4966 0100 0000 7404", "the card is frozen"),
        ("4966 0100 0000 5051", "not enough credit"),
    ],
)
def test_a_declined_card_is_explained_and_another_card_can_be_tried(checkout, app, client, number, message):
    reference = checkout.start_order()
    response = checkout.pay(reference, number)
    assert response.headers["Location"] == f"/checkout/{reference}/payment"
    page = text(client.get(response.headers["Location"]))
    assert message in page and "You have not been charged" in page
    assert order(app, reference).status == "PAYMENT_DECLINED"
    response = checkout.pay(reference, HAPPY)
    assert order(app, reference).status == "PAID"


@pytest.mark.parametrize("number", ["4966 0300 0000 4300", "4242 4242 4242 4242"])
def test_an_ineligible_or_other_bank_card_goes_straight_to_the_confirmation(checkout, app, client, number):
    reference = checkout.start_order()
    response = checkout.pay(reference, number)
    assert response.headers["Location"] == f"/orders/{reference}"
    page = text(client.get(f"/orders/{reference}"))
    assert "Your order is confirmed" in page
    assert client.get(f"/checkout/{reference}/points").headers["Location"] == f"/orders/{reference}"
    assert event_kinds(app, reference) == []


def test_the_gateway_being_down_charges_nothing_and_says_so(checkout, app, client, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.down = True
    response = checkout.pay(reference)
    assert "You have not been charged" in text(client.get(response.headers["Location"]))
    assert order(app, reference).status == "PENDING_PAYMENT"


def test_a_payment_timeout_is_resolved_by_the_look_up(checkout, app, client, fake_issuer):
    reference = checkout.start_order()
    fake_issuer.fail_after("pay", OutcomeUnknown("outcomeUnknown", "timeout"))
    response = checkout.pay(reference)
    assert response.headers["Location"] == f"/checkout/{reference}/points"
    assert order(app, reference).status == "PAID"
    assert len(fake_issuer.payments) == 1


# --- Pay with Points: first time ----------------------------------------------------------------


def test_the_points_step_is_the_banks_widget_asking_for_the_mobile_number(checkout, app, client):
    reference = checkout.paid_order()
    page = text(client.get(f"/checkout/{reference}/points"))
    assert 'data-testid="pwp-widget"' in page and "Summit Bank" in page
    assert ">Mobile number</label>" in page and 'value="91234567"' in page
    assert 'value="Send code"' in page and 'value="Skip"' in page
    assert event_kinds(app, reference) == ["card_paid_eligible", "offer_shown"]


def test_sending_the_code_shows_the_masked_number_and_the_otp_form(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    response = checkout.send_code(reference)
    assert response.headers["Location"] == f"/checkout/{reference}/points"
    page = text(client.get(response.headers["Location"]))
    assert "****4567" in page
    assert ">One-time password</label>" in page and 'value="Verify"' in page and 'value="Resend code"' in page
    assert 'data-seconds="30"' in page or 'data-seconds="29"' in page
    assert len(fake_issuer.sms) == 1


def test_a_wrong_code_says_how_many_attempts_are_left_then_the_right_one_verifies(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    right = fake_issuer.last_otp("91234567")
    wrong = "000000" if right != "000000" else "111111"
    response = checkout.verify(reference, wrong)
    assert "That code is not right. 4 attempts left." in text(client.get(response.headers["Location"]))
    response = checkout.verify(reference, right)
    page = text(client.get(response.headers["Location"]))
    assert "Card verified" in page
    assert ">Points to use</label>" in page
    assert "120,000 points" in page and "HK$480.00" in page


@pytest.mark.parametrize(("otp", "message"), [("12345", "The code has 6 digits."), ("", "Enter the 6-digit code")])
def test_a_malformed_code_is_refused_by_the_form(checkout, client, fake_issuer, otp, message):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    response = checkout.verify(reference, otp)
    assert response.status_code == 422 and message in text(response)
    assert fake_issuer.calls_to("verify_otp") == []


def test_an_expired_code_is_explained(checkout, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    fake_issuer.advance(minutes=6)
    response = checkout.verify(reference, fake_issuer.last_otp("91234567"))
    assert "That code has expired" in text(client.get(response.headers["Location"]))


def test_a_locked_code_offers_to_send_a_new_one(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    wrong = "000000" if fake_issuer.last_otp("91234567") != "000000" else "111111"
    for _ in range(5):
        response = checkout.verify(reference, wrong)
    page = text(client.get(response.headers["Location"]))
    assert "Too many wrong codes" in page
    assert 'value="Send code"' in page  # back to the mobile step, ready to send a new code


def test_resending_inside_the_cooldown_is_refused_by_the_bank_and_explained(checkout, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    response = client.post(f"/checkout/{reference}/points/resend", data={"resend": "Resend code"})
    assert "Please wait a few seconds" in text(client.get(response.headers["Location"]))
    fake_issuer.advance(seconds=31)
    response = client.post(f"/checkout/{reference}/points/resend", data={"resend": "Resend code"})
    assert "We sent a new code to ****4567" in text(client.get(response.headers["Location"]))
    assert len(fake_issuer.sms) == 2


def test_an_undeliverable_sms_is_explained(checkout, client, fake_issuer):
    fake_issuer.cards["4966010000007909"].credit_limit_cents = 10_000_000
    reference = checkout.paid_order("4966 0100 0000 7909")
    response = checkout.send_code(reference, "90000000")
    assert "could not send an SMS" in text(client.get(response.headers["Location"]))


def test_a_mobile_number_the_bank_does_not_know_is_explained(checkout, client):
    reference = checkout.paid_order()
    response = checkout.send_code(reference, "98765432")
    assert "could not find a points card ending 8741" in text(client.get(response.headers["Location"]))


# --- Choosing points ----------------------------------------------------------------------------


def test_using_points_records_the_tenders_and_shows_them_on_the_confirmation(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    response = checkout.use_points(reference, 50_000)
    assert response.headers["Location"] == f"/orders/{reference}"
    page = text(client.get(response.headers["Location"]))
    assert "50,000 points used" in page
    assert 'data-testid="card-charged">HK$520.00' in page
    assert 'data-testid="points-used">50,000' in page
    assert 'data-testid="statement-credit">− HK$200.00' in page
    assert 'data-testid="net-cost">HK$320.00' in page
    assert event_kinds(app, reference)[-1] == "points_redeemed"
    assert fake_issuer.points_of("4966010000008741") == 70_000


def test_use_maximum_without_javascript_redeems_the_most_this_order_allows(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    response = client.post(f"/checkout/{reference}/points/redeem", data={"points": "", "use_max": "Use maximum"})
    assert response.headers["Location"] == f"/orders/{reference}"
    saved = order(app, reference)
    # HK$520 would take 130,000 points; the balance of 120,000 is the cap.
    assert (saved.points_used, saved.statement_credit_cents) == (120_000, 48_000)


def test_the_points_page_works_without_javascript(checkout, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    page = text(client.get(f"/checkout/{reference}/points"))
    assert 'type="number"' in page and 'step="25"' in page and 'min="1000"' in page and 'max="120000"' in page
    assert 'value="Use points"' in page and 'value="Use maximum"' in page
    assert "<script src=" in page and "<script>" not in page and "style=" not in page


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("50010", "Points are used in steps of 25."),
        ("500", "Use at least 1,000 points."),
        ("200000", "You can use at most 120,000 points on this order."),
        ("lots", "Not a valid integer value."),
    ],
)
def test_the_server_checks_the_points_the_browser_sends(checkout, client, fake_issuer, points, message):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    response = checkout.use_points(reference, points)
    assert response.status_code == 422
    assert message in text(response)
    assert fake_issuer.calls_to("redeem") == []


def test_too_few_points_says_so_and_offers_to_skip(checkout, client, fake_issuer, app):
    from shop.models import User

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "chan.taiman@example.com"))
        user.phone = "92345678"
        db.session.commit()
    reference = checkout.paid_order("4966 0100 0000 0102")
    checkout.link_card(reference, fake_issuer, "92345678")
    page = text(client.get(f"/checkout/{reference}/points"))
    assert "You need at least 1,000 points" in page and 'value="Skip"' in page
    assert "Points to use" not in page


def test_skipping_goes_to_the_confirmation_and_is_recorded(checkout, app, client):
    reference = checkout.paid_order()
    client.get(f"/checkout/{reference}/points")
    response = client.post(f"/checkout/{reference}/points/skip", data={"skip": "Skip"})
    assert response.headers["Location"] == f"/orders/{reference}"
    assert event_kinds(app, reference) == ["card_paid_eligible", "offer_shown", "skipped"]
    assert order(app, reference).status == "PAID"
    # The payment page of the paid, skipped order goes to the confirmation, not back to points.
    assert client.get(f"/checkout/{reference}/payment").headers["Location"] == f"/orders/{reference}"


def test_a_returning_shopper_skips_the_code_and_goes_straight_to_the_balance(checkout, client, fake_issuer):
    first = checkout.paid_order()
    checkout.link_card(first, fake_issuer)
    checkout.use_points(first, 25_000)
    second = checkout.paid_order()
    page = text(client.get(f"/checkout/{second}/points"))
    assert ">Points to use</label>" in page and "Send code" not in page
    assert "95,000 points" in page
    assert len(fake_issuer.sms) == 1


def test_the_bank_down_on_the_points_step_shows_a_calm_message_and_the_payment_stands(
    checkout, app, client, fake_issuer
):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    fake_issuer.down = True
    page = text(client.get(f"/checkout/{reference}/points"))
    assert "is not responding right now" in page and "Your card payment is complete" in page
    assert 'value="Skip"' in page and "Traceback" not in page
    assert order(app, reference).status == "PAID"


def test_the_bank_down_when_sending_the_code_is_explained(checkout, client, fake_issuer):
    reference = checkout.paid_order()
    fake_issuer.fail_before("enroll", IssuerUnavailable("issuerUnavailable", "down"))
    response = checkout.send_code(reference)
    assert "is not responding right now" in text(client.get(response.headers["Location"]))


def test_an_unknown_redemption_outcome_is_looked_up_and_recorded(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    fake_issuer.fail_after("redeem", OutcomeUnknown("outcomeUnknown", "timeout"))
    checkout.use_points(reference, 50_000)
    assert order(app, reference).status == "POINTS_APPLIED"
    assert len(fake_issuer.calls_to("find_redemption")) == 1


def test_a_link_the_bank_forgot_sends_the_shopper_back_to_verify(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    fake_issuer.links.clear()  # the sandbox was reset
    response = client.get(f"/checkout/{reference}/points")
    assert response.status_code == 302
    assert 'value="Send code"' in text(client.get(response.headers["Location"]))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CardLink)) == 0


def test_another_shoppers_order_is_not_found(checkout, client, shopper):
    reference = checkout.paid_order()
    shopper.sign_out()
    shopper.sign_in("wong.siuming@example.com")
    assert client.get(f"/checkout/{reference}/payment").status_code == 404
    assert client.get(f"/checkout/{reference}/points").status_code == 404


def test_the_resend_countdown_follows_the_configured_cooldown(checkout, app, client):
    app.config["PWP_RESEND_COOLDOWN_SECONDS"] = 0
    reference = checkout.paid_order()
    checkout.send_code(reference)
    assert 'data-seconds="0"' in text(client.get(f"/checkout/{reference}/points"))


def test_checkout_forms_refuse_a_post_without_the_csrf_token(checkout, app, client, fake_issuer):
    reference = checkout.start_order()
    app.config["WTF_CSRF_ENABLED"] = True
    response = checkout.pay(reference)
    assert response.status_code == 400
    assert fake_issuer.calls_to("pay") == []
    page = text(client.get(f"/checkout/{reference}/payment"))
    assert 'name="csrf_token"' in page


def test_send_a_new_code_forgets_the_pending_link_so_another_number_can_be_given(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.send_code(reference)
    response = client.post(f"/checkout/{reference}/points/restart", data={"restart": "Send a new code"})
    assert response.headers["Location"].endswith(f"/checkout/{reference}/points")
    page = text(client.get(response.headers["Location"]))
    assert 'value="Send code"' in page  # back to the mobile step
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CardLink)) == 0


def test_send_a_new_code_never_forgets_a_verified_card(checkout, app, client, fake_issuer):
    reference = checkout.paid_order()
    checkout.link_card(reference, fake_issuer)
    client.post(f"/checkout/{reference}/points/restart", data={"restart": "Send a new code"})
    with app.app_context():
        assert db.session.scalar(sa.select(CardLink.status)) == "ACTIVE"
