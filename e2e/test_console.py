"""The sandbox console beside the shop: watch the OTP arrive on the phone, inject a fault and see the shop cope."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .pages.console import ConsolePage
from .pages.shop import HAPPY, POWER_BANK, ShopPage
from .sandbox_api import SandboxApi, eventually


def test_the_console_phone_shows_the_otp_arrive_while_the_shop_sends_it_and_that_code_links_the_card(
    shop: ShopPage, console: ConsolePage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    console.open_phone(HAPPY.mobile)
    expect(console.page.get_by_text("No messages to this number yet.")).to_be_visible()

    shop.send_code(HAPPY.mobile)
    shop.expect_code_sent("****4567")

    # No reload: the phone view polls and shows the new message by itself.
    expect(console.messages).to_have_count(1)
    message = console.messages.first
    expect(message).to_contain_text("is your one-time password to link your card ending 8741 with Harbour Mall")
    code_on_phone = message.locator("strong").inner_text()
    assert re.fullmatch(r"\d{6}", code_on_phone)
    assert code_on_phone == sandbox.latest_otp(HAPPY.mobile)

    shop.verify(code_on_phone)
    expect(shop.flash).to_contain_text("Card verified")
    shop.use_points(5_000)
    shop.expect_order(reference, "Paid with points")

    console.open_card(HAPPY.last4)
    expect(console.ledger_rows.last).to_contain_text("-5,000")
    expect(console.ledger_rows.last).to_contain_text("115,000")
    assert sandbox.points(HAPPY.last4) == 115_000


def test_a_fault_injected_from_the_console_gets_a_calm_message_in_the_shop_and_removing_it_restores_points(
    shop: ShopPage, console: ConsolePage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    console.open_controls()
    console.add_fault("redemptions.point_balance", error_status=503, error_code="serviceUnavailable")
    expect(console.fault_rules).to_have_count(1)
    expect(console.fault_rules.first).to_contain_text("redemptions.point_balance")

    shop.send_code(HAPPY.mobile)
    shop.verify(sandbox.wait_for_otp(HAPPY.mobile))

    notice = shop.page.get_by_test_id("issuer-unavailable")
    expect(notice).to_contain_text("Summit Bank is not responding right now")
    expect(notice).to_contain_text("Your card payment is complete and your order is confirmed")
    expect(shop.page.get_by_text(re.compile("Traceback|Internal Server Error"))).to_have_count(0)
    expect(shop.points_input).to_have_count(0)
    # The request log is written in batches: poll until the faulted call is there.
    eventually(
        lambda: any(entry["status"] == 503 for entry in sandbox.request_log(path="/pointBalance")),
        what="the faulted balance call in the request log",
    )

    console.fault_rules.first.get_by_role("button", name=re.compile("^Remove")).click()
    expect(console.page.get_by_text("No faults: every endpoint behaves normally.")).to_be_visible()
    shop.page.reload()
    expect(shop.balance).to_contain_text("120,000 points")
    shop.use_points(25_000)

    shop.expect_order(reference, "Paid with points")
    assert sandbox.points(HAPPY.last4) == 95_000
    assert [entry["points"] for entry in sandbox.debits_for_order(HAPPY.last4, reference)] == [-25_000]
