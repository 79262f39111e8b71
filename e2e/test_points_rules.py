"""The programme's rules as the shopper meets them: minimum, balance, Premier rate, server-side checks."""

from __future__ import annotations

from playwright.sync_api import expect

from .pages.shop import HAPPY, LOW_POINTS, POWER_BANK, PREMIER, PaymentCard, ShopPage
from .sandbox_api import SandboxApi


def link_card(shop: ShopPage, sandbox: SandboxApi, card: PaymentCard) -> None:
    shop.expect_points_offer()
    shop.send_code(card.mobile)
    shop.verify(sandbox.wait_for_otp(card.mobile))
    expect(shop.flash).to_contain_text("Card verified")


def test_a_card_below_the_minimum_sees_its_balance_but_no_way_to_redeem_and_pays_by_card(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, LOW_POINTS)
    link_card(shop, sandbox, LOW_POINTS)

    expect(shop.balance).to_contain_text("800 points, worth HK$3.20")
    expect(shop.page.get_by_test_id("not-enough-points")).to_contain_text("at least 1,000 points")
    expect(shop.page.get_by_role("button", name="Use points")).to_have_count(0)
    shop.skip()

    shop.expect_order(reference, "Paid")
    expect(shop.tender("net-cost")).to_have_text("HK$368.00")
    assert sandbox.points(LOW_POINTS.last4) == 800
    assert sandbox.redemption_debits(LOW_POINTS.last4) == []


def test_points_spent_elsewhere_after_the_offer_are_refused_by_the_recheck_and_a_smaller_amount_then_works(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    link_card(shop, sandbox, HAPPY)
    expect(shop.points_input).to_have_value("92000")
    sandbox.adjust_points(HAPPY.last4, -100_000, "spent at another merchant")  # 20,000 left

    shop.use_points()

    expect(shop.page.get_by_test_id("pwp-widget")).to_contain_text("You can use at most 20,000 points")
    assert sandbox.redemption_debits(HAPPY.last4) == []
    assert sandbox.points(HAPPY.last4) == 20_000
    shop.use_points(20_000)
    shop.expect_order(reference, "Paid with points")
    expect(shop.tender("statement-credit")).to_have_text("− HK$80.00")
    expect(shop.tender("net-cost")).to_have_text("HK$288.00")
    assert sandbox.points(HAPPY.last4) == 0


def test_a_premier_card_redeems_at_200_points_a_dollar_and_the_widget_shows_credit_and_net_cost_as_it_moves(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, PREMIER)
    link_card(shop, sandbox, PREMIER)

    expect(shop.balance).to_contain_text("2,000,000 points, worth HK$10,000.00")
    expect(shop.points_input).to_have_value("73600")  # HK$368.00 x 200
    shop.points_input.fill("20000")
    expect(shop.widget.get_by_test_id("statement-credit")).to_have_text("− HK$100.00")
    expect(shop.widget.get_by_test_id("net-cost")).to_have_text("HK$268.00")
    shop.use_points()

    shop.expect_order(reference, "Paid with points")
    expect(shop.tender("points-used")).to_have_text("20,000")
    expect(shop.tender("statement-credit")).to_have_text("− HK$100.00")
    expect(shop.tender("net-cost")).to_have_text("HK$268.00")
    assert sandbox.points(PREMIER.last4) == 2_000_000 - 20_000
    assert [entry["points"] for entry in sandbox.debits_for_order(PREMIER.last4, reference)] == [-20_000]
    credit = [line for line in sandbox.statement(PREMIER.last4) if line["kind"] == "POINTS_CREDIT"]
    assert [line["amount"].lstrip("-") for line in credit] == ["100.00"]


def test_without_javascript_the_server_refuses_points_above_the_order_or_off_the_increment(
    new_context, shop_url: str, sandbox: SandboxApi
):
    shop = ShopPage(new_context(java_script_enabled=False).new_page(), shop_url)
    shop.sign_up()
    reference = shop.buy(POWER_BANK, HAPPY)
    link_card(shop, sandbox, HAPPY)

    shop.use_points(100_000)
    expect(shop.widget).to_contain_text("You can use at most 92,000 points on this order.")
    shop.use_points(1_010)
    expect(shop.widget).to_contain_text("Points are used in steps of 25.")
    shop.use_points(500)
    expect(shop.widget).to_contain_text("Use at least 1,000 points.")
    assert sandbox.redemption_debits(HAPPY.last4) == []

    shop.page.get_by_role("button", name="Use maximum").click()  # the server works the maximum out
    shop.expect_order(reference, "Paid with points")
    expect(shop.tender("points-used")).to_have_text("92,000")
    assert sandbox.points(HAPPY.last4) == 120_000 - 92_000
