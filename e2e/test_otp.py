"""The one-time password step: expiry, lockout and re-enrolment, resend cooldown, undeliverable SMS."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .pages.shop import HAPPY, POWER_BANK, SMS_UNDELIVERABLE, ShopPage
from .sandbox_api import SandboxApi

HAPPY_POINTS = 120_000


def other_code(code: str, offset: int = 1) -> str:
    """A 6-digit code that is certainly not `code`."""
    return f"{(int(code) + offset) % 1_000_000:06d}"


def test_an_expired_otp_is_refused_and_a_resent_code_links_the_card(shop: ShopPage, sandbox: SandboxApi):
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.send_code(HAPPY.mobile)
    first = sandbox.wait_for_otp(HAPPY.mobile)
    sandbox.advance_clock(301)  # the bank's 5 minutes are over

    shop.verify(first)
    expect(shop.flash).to_contain_text("That code has expired")
    expect(shop.page.get_by_label("One-time password")).to_be_visible()

    shop.resend()
    expect(shop.flash).to_contain_text("We sent a new code to ****4567")
    second = sandbox.wait_for_otp(HAPPY.mobile, count=2)
    shop.verify(second)
    expect(shop.flash).to_contain_text("Card verified")
    shop.use_points(1_000)

    shop.expect_order(reference, "Paid with points")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 1_000
    assert [link["status"] for link in sandbox.links()] == ["ACTIVE"]


def test_five_wrong_codes_lock_the_link_and_the_shopper_enrols_again_with_a_new_code(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.send_code(HAPPY.mobile)
    code = sandbox.wait_for_otp(HAPPY.mobile)

    for attempt, left in enumerate((4, 3, 2, 1), start=1):
        shop.verify(other_code(code, attempt))
        expect(shop.flash).to_contain_text(f"That code is not right. {left} attempt")
    shop.verify(other_code(code, 5))
    expect(shop.flash).to_contain_text("Too many wrong codes")
    assert [link["status"] for link in sandbox.links()] == ["LOCKED"]

    # The locked code is gone for good, even the right one: the shopper starts again from the mobile number.
    expect(shop.page.get_by_label("Mobile number")).to_be_visible()
    shop.send_code(HAPPY.mobile)
    shop.expect_code_sent("****4567")
    fresh = sandbox.wait_for_otp(HAPPY.mobile, count=2)
    shop.verify(fresh)
    expect(shop.flash).to_contain_text("Card verified")
    shop.use_points(2_000)

    shop.expect_order(reference, "Paid with points")
    assert sorted(link["status"] for link in sandbox.links()) == ["ACTIVE", "LOCKED"]
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 2_000


def test_the_resend_button_waits_out_a_countdown_then_a_new_code_replaces_the_old_one(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.page.clock.install()  # the page's countdown runs on a clock the test can move
    shop.send_code(HAPPY.mobile)
    first = sandbox.wait_for_otp(HAPPY.mobile)

    resend = shop.page.get_by_role("button", name="Resend code")
    expect(resend).to_be_disabled()
    expect(shop.page.locator("#resend-countdown")).to_contain_text(re.compile(r"new code in \d+ seconds"))

    sandbox.advance_clock(31)  # the bank's 30-second cooldown
    shop.page.clock.run_for(31_000)  # and the page's own countdown
    expect(resend).to_be_enabled()
    expect(shop.page.locator("#resend-countdown")).to_have_text("You can ask for a new code now.")
    shop.resend()
    expect(shop.flash).to_contain_text("We sent a new code to ****4567")
    second = sandbox.wait_for_otp(HAPPY.mobile, count=2)

    if first != second:
        shop.verify(first)  # the old code stopped working when the new one was sent
        expect(shop.flash).to_contain_text("That code is not right")
    shop.verify(second)
    expect(shop.flash).to_contain_text("Card verified")
    shop.use_points(1_000)
    shop.expect_order(reference, "Paid with points")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 1_000


def test_without_javascript_a_resend_inside_the_cooldown_is_refused_and_sends_nothing(new_context, shop_url, sandbox):
    shop = ShopPage(new_context(java_script_enabled=False).new_page(), shop_url)
    shop.sign_up()
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.send_code(HAPPY.mobile)
    code = sandbox.wait_for_otp(HAPPY.mobile)

    shop.resend()

    expect(shop.flash).to_contain_text("Please wait a few seconds before asking for another code")
    assert len(sandbox.sms(HAPPY.mobile)) == 1
    shop.verify(code)  # the first code still works
    expect(shop.flash).to_contain_text("Card verified")
    shop.use_points(1_000)  # the plain form, without the slider script
    shop.expect_order(reference, "Paid with points")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 1_000


def test_a_card_whose_mobile_cannot_get_sms_is_told_so_and_still_pays_by_card(shop: ShopPage, sandbox: SandboxApi):
    reference = shop.buy(POWER_BANK, SMS_UNDELIVERABLE)
    shop.expect_points_offer()
    shop.send_code(SMS_UNDELIVERABLE.mobile)

    expect(shop.flash).to_contain_text("could not send an SMS to that number")
    expect(shop.page.get_by_label("Mobile number")).to_be_visible()
    assert sandbox.sms(SMS_UNDELIVERABLE.mobile) == []
    shop.skip()

    shop.expect_order(reference, "Paid")
    expect(shop.tender("net-cost")).to_have_text("HK$368.00")
    assert sandbox.points(SMS_UNDELIVERABLE.last4) == 40_000
    assert sandbox.statement_kinds(SMS_UNDELIVERABLE.last4) == ["PURCHASE"]
