"""The shop's checkout with Pay with Points, as a shopper lives it, checked against the bank's ledger."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .pages.shop import (
    CREDIT_LIMIT,
    DEBIT,
    EARBUDS,
    FROZEN,
    HAPPY,
    NOODLES,
    OTHER_BANK,
    POWER_BANK,
    RED_PACKETS,
    ShopPage,
)
from .sandbox_api import SandboxApi

HAPPY_POINTS = 120_000


def link_happy_card(shop: ShopPage, sandbox: SandboxApi) -> None:
    """On the points step: confirm the mobile, read the SMS, type the code."""
    shop.expect_points_offer()
    shop.send_code(HAPPY.mobile)
    shop.expect_code_sent("****4567")
    shop.verify(sandbox.latest_otp(HAPPY.mobile))
    expect(shop.flash).to_contain_text("Card verified")


def test_a_first_time_shopper_pays_by_card_verifies_by_sms_and_turns_points_into_a_statement_credit(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    link_happy_card(shop, sandbox)

    expect(shop.balance).to_contain_text("120,000 points, worth HK$480.00")
    expect(shop.points_input).to_have_value("92000")  # the whole HK$368.00 order at 250 points a dollar
    shop.use_points()

    expect(shop.flash).to_contain_text("92,000 points used: a statement credit of HK$368.00")
    shop.expect_order(reference, "Paid with points")
    expect(shop.tender("card-charged")).to_have_text("HK$368.00")
    expect(shop.tender("points-used")).to_have_text("92,000")
    expect(shop.tender("statement-credit")).to_have_text("− HK$368.00")
    expect(shop.tender("net-cost")).to_have_text("HK$0.00")

    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 92_000
    debits = sandbox.debits_for_order(HAPPY.last4, reference)
    assert [entry["points"] for entry in debits] == [-92_000]
    assert sandbox.statement_kinds(HAPPY.last4) == ["PURCHASE", "POINTS_CREDIT"]
    assert len(sandbox.sms(HAPPY.mobile)) == 1  # one code, sent once


def test_a_returning_shopper_with_a_linked_card_goes_straight_to_the_balance_without_an_otp(
    shop: ShopPage, sandbox: SandboxApi
):
    first = shop.buy(RED_PACKETS, HAPPY)
    link_happy_card(shop, sandbox)
    shop.use_points(1_000)
    shop.expect_order(first, "Paid with points")

    second = shop.buy(POWER_BANK, HAPPY)
    shop.expect_points_offer()
    expect(shop.page.get_by_label("One-time password")).to_have_count(0)
    expect(shop.page.get_by_role("button", name="Send code")).to_have_count(0)
    expect(shop.balance).to_contain_text("119,000 points")
    shop.use_points(25_000)

    shop.expect_order(second, "Paid with points")
    expect(shop.tender("statement-credit")).to_have_text("− HK$100.00")
    expect(shop.tender("net-cost")).to_have_text("HK$268.00")
    assert len(sandbox.sms(HAPPY.mobile)) == 1  # only the first checkout sent a code
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 1_000 - 25_000
    assert [entry["points"] for entry in sandbox.debits_for_order(HAPPY.last4, second)] == [-25_000]


def test_a_shopper_who_skips_points_pays_by_card_only_and_keeps_every_point(shop: ShopPage, sandbox: SandboxApi):
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.expect_points_offer()
    shop.skip()

    shop.expect_order(reference, "Paid")
    expect(shop.page.get_by_test_id("order-confirmed")).to_be_visible()
    expect(shop.tender("card-charged")).to_have_text("HK$368.00")
    expect(shop.tender("points-used")).to_have_count(0)
    expect(shop.tender("net-cost")).to_have_text("HK$368.00")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS
    assert sandbox.redemption_debits(HAPPY.last4) == []
    assert sandbox.sms(HAPPY.mobile) == []
    assert sandbox.statement_kinds(HAPPY.last4) == ["PURCHASE"]


def test_a_summit_debit_card_just_pays_with_no_points_offer(shop: ShopPage, sandbox: SandboxApi):
    reference = shop.buy(POWER_BANK, DEBIT)

    shop.expect_order(reference, "Paid")
    expect(shop.widget).to_have_count(0)
    expect(shop.page.get_by_role("link", name=re.compile("Use Summit Bank points"))).to_have_count(0)
    expect(shop.tender("card-charged")).to_contain_text("HK$368.00")
    assert sandbox.statement_kinds(DEBIT.last4) == ["PURCHASE"]
    assert sandbox.redemption_debits(DEBIT.last4) == []


def test_another_banks_card_just_pays_with_no_points_offer(shop: ShopPage, sandbox: SandboxApi):
    reference = shop.buy(POWER_BANK, OTHER_BANK)

    shop.expect_order(reference, "Paid")
    expect(shop.widget).to_have_count(0)
    expect(shop.page.get_by_test_id("tenders")).to_contain_text("•••• 4242")
    expect(shop.tender("net-cost")).to_have_text("HK$368.00")
    assert sandbox.ledger_health()["redeemed"] == 0


def test_a_frozen_card_is_declined_without_a_charge_and_another_card_then_pays(shop: ShopPage, sandbox: SandboxApi):
    shop.add_product(POWER_BANK)
    shop.open_cart()
    reference = shop.checkout()
    shop.pay(FROZEN)

    expect(shop.flash).to_contain_text("the card is frozen")
    expect(shop.flash).to_contain_text("You have not been charged")
    expect(shop.heading).to_have_text("Payment")
    assert sandbox.statement(FROZEN.last4) == []
    assert sandbox.card(FROZEN.last4)["outstanding"] == "0.00"

    shop.pay(OTHER_BANK)
    expect(shop.flash).to_contain_text("•••• 4242 charged")
    shop.expect_order(reference, "Paid")


def test_a_card_over_its_credit_limit_is_declined_and_a_small_order_on_it_goes_through(
    shop: ShopPage, sandbox: SandboxApi
):
    shop.add_product(POWER_BANK)
    shop.open_cart()
    shop.checkout()
    shop.pay(CREDIT_LIMIT)

    expect(shop.flash).to_contain_text("not enough credit available")
    expect(shop.heading).to_have_text("Payment")
    assert sandbox.statement(CREDIT_LIMIT.last4) == []
    assert sandbox.card(CREDIT_LIMIT.last4)["creditAvailable"] == "100.00"

    small = shop.buy(NOODLES, CREDIT_LIMIT)  # HK$59.90 fits in HK$100
    shop.expect_points_offer()
    shop.skip()
    shop.expect_order(small, "Paid")
    assert sandbox.card(CREDIT_LIMIT.last4)["creditAvailable"] == "40.10"


def test_a_wrong_otp_is_refused_with_attempts_left_and_the_right_one_then_links_the_card(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.send_code(HAPPY.mobile)
    code = sandbox.wait_for_otp(HAPPY.mobile)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    shop.verify(wrong)
    expect(shop.flash).to_contain_text("That code is not right. 4 attempts left.")
    expect(shop.page.get_by_label("One-time password")).to_be_visible()
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS

    shop.verify(code)
    expect(shop.flash).to_contain_text("Card verified")
    shop.use_points(40_000)
    shop.expect_order(reference, "Paid with points")
    expect(shop.tender("statement-credit")).to_have_text("− HK$160.00")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 40_000
    assert [link["status"] for link in sandbox.links()] == ["ACTIVE"]


def test_cancelling_an_order_refunds_the_card_and_restores_the_points(shop: ShopPage, sandbox: SandboxApi):
    reference = shop.buy(POWER_BANK, HAPPY)
    link_happy_card(shop, sandbox)
    shop.use_points(50_000)
    shop.expect_order(reference, "Paid with points")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 50_000

    shop.cancel_order()

    shop.expect_order(reference, "Cancelled")
    expect(shop.tender("refunded")).to_have_text("− HK$368.00")
    expect(shop.tender("points-reversed")).to_have_text("50,000")
    expect(shop.tender("credit-reversed")).to_have_text("+ HK$200.00")
    expect(shop.page.get_by_test_id("adjustments")).to_contain_text("50,000 points returned")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS
    assert [entry["points"] for entry in sandbox.reversal_credits(HAPPY.last4)] == [50_000]
    assert sorted(sandbox.statement_kinds(HAPPY.last4)) == sorted(
        ["PURCHASE", "POINTS_CREDIT", "REFUND", "POINTS_CREDIT_REVERSAL"]
    )
    assert sandbox.card(HAPPY.last4)["outstanding"] == "0.00"


def test_cancelling_some_items_refunds_their_price_and_returns_their_share_of_points_then_the_rest(
    shop: ShopPage, sandbox: SandboxApi
):
    # 2 x HK$699 earbuds = HK$1,398.00, free delivery; 100,000 points = HK$400.00 credit.
    reference = shop.buy(EARBUDS, HAPPY, quantity=2)
    link_happy_card(shop, sandbox)
    shop.use_points(100_000)
    shop.expect_order(reference, "Paid with points")

    shop.cancel_items(EARBUDS[1], 1)

    expect(shop.page.get_by_test_id("line-cancelled")).to_have_text("1 cancelled")
    expect(shop.tender("refunded")).to_have_text("− HK$699.00")
    returned_after_one = sandbox.points(HAPPY.last4) - (HAPPY_POINTS - 100_000)
    assert 0 < returned_after_one < 100_000
    expect(shop.tender("points-reversed")).to_have_text(f"{returned_after_one:,}")
    assert [entry["points"] for entry in sandbox.reversal_credits(HAPPY.last4)] == [returned_after_one]

    shop.cancel_order()

    shop.expect_order(reference, "Cancelled")
    expect(shop.tender("refunded")).to_have_text("− HK$1,398.00")
    expect(shop.tender("points-reversed")).to_have_text("100,000")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS
    assert sum(entry["points"] for entry in sandbox.reversal_credits(HAPPY.last4)) == 100_000
    assert sandbox.card(HAPPY.last4)["outstanding"] == "0.00"


def test_a_shopper_finds_a_product_by_search_and_adds_it_to_the_cart(shop: ShopPage):
    shop.goto("/")
    shop.search("power bank")

    expect(shop.results()).to_contain_text([POWER_BANK[1]])
    shop.open_product(POWER_BANK[1])
    shop.add_to_cart(2)

    expect(shop.heading).to_have_text("Your cart")
    expect(shop.cart_lines()).to_have_count(1)
    expect(shop.cart_lines()).to_contain_text(POWER_BANK[1])
    expect(shop.page.get_by_test_id("subtotal")).to_have_text("HK$656.00")
    expect(shop.page.get_by_test_id("delivery-fee")).to_have_text("Free")
    expect(shop.cart_count()).to_have_text("2")


def test_a_search_with_no_match_says_so_helpfully(shop: ShopPage):
    shop.goto("/")
    shop.search("zzqxv")
    expect(shop.results()).to_have_count(0)
    expect(shop.page.get_by_role("main")).to_contain_text(re.compile("no products|nothing", re.IGNORECASE))
