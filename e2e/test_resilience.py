"""When the bank or the browser misbehaves: timeouts, dropped answers, outages, double clicks, back, two tabs.

Whatever happens, the shopper is charged once, points are taken at most once, and the order says what happened.
"""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from .harness import SHOP_ISSUER_TIMEOUT_SECONDS, Apps
from .pages.shop import HAPPY, POWER_BANK, ShopPage
from .sandbox_api import SandboxApi, eventually

HAPPY_POINTS = 120_000
REDEEM = "redemptions.redeem"
ENROL = "links.enroll"


def link_happy_card(shop: ShopPage, sandbox: SandboxApi) -> None:
    shop.expect_points_offer()
    shop.send_code(HAPPY.mobile)
    shop.verify(sandbox.wait_for_otp(HAPPY.mobile))
    expect(shop.flash).to_contain_text("Card verified")


def wait_for_slow_calls_to_finish(sandbox: SandboxApi, path: str, count: int = 1) -> None:
    """A slowed call is logged only once its sleep is over: wait for it, so it cannot outlive the test."""
    eventually(
        lambda: sum("latency" in (entry["fault"] or "") for entry in sandbox.request_log(path=path)) >= count,
        timeout=30,
        what=f"{count} slowed call(s) to {path} to finish",
    )


def test_a_redemption_that_times_out_is_settled_by_the_status_look_up_with_exactly_one_debit(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    link_happy_card(shop, sandbox)
    latency_ms = (SHOP_ISSUER_TIMEOUT_SECONDS + 2) * 1000
    sandbox.add_fault(REDEEM, latency_ms=latency_ms, fail_times=1)  # the bank commits, then answers too late

    shop.use_points(50_000)

    shop.expect_order(reference, "Paid with points")
    expect(shop.tender("points-used")).to_have_text("50,000")
    expect(shop.tender("statement-credit")).to_have_text("− HK$200.00")
    wait_for_slow_calls_to_finish(sandbox, "/redemption")
    look_ups = [entry for entry in sandbox.request_log(path="/redemption") if entry["method"] == "GET"]
    assert look_ups, "the shop never asked the status look-up"
    assert [entry["points"] for entry in sandbox.debits_for_order(HAPPY.last4, reference)] == [-50_000]
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 50_000


def test_a_redemption_whose_answer_is_lost_after_the_commit_is_found_by_look_up_with_exactly_one_debit(
    shop: ShopPage, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    link_happy_card(shop, sandbox)
    sandbox.add_fault(REDEEM, drop_response_after_commit=True, fail_times=1)

    shop.use_points(60_000)

    shop.expect_order(reference, "Paid with points")
    expect(shop.tender("points-used")).to_have_text("60,000")
    expect(shop.tender("net-cost")).to_have_text("HK$128.00")
    assert [entry["points"] for entry in sandbox.debits_for_order(HAPPY.last4, reference)] == [-60_000]
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 60_000
    shop.page.reload()  # and looking again changes nothing
    expect(shop.tender("points-used")).to_have_text("60,000")
    assert len(sandbox.redemption_debits(HAPPY.last4)) == 1


def test_when_enrolment_is_down_the_shopper_gets_a_calm_message_and_keeps_the_card_only_order(
    shop: ShopPage, sandbox: SandboxApi
):
    sandbox.add_fault(ENROL, error_status=503, error_code="serviceUnavailable")
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.send_code(HAPPY.mobile)

    expect(shop.flash).to_contain_text("Summit Bank is not responding right now. Your card payment is complete")
    expect(shop.page.get_by_text("Traceback")).to_have_count(0)
    shop.skip()

    shop.expect_order(reference, "Paid")
    expect(shop.page.get_by_test_id("order-confirmed")).to_be_visible()
    expect(shop.tender("card-charged")).to_have_text("HK$368.00")
    expect(shop.tender("net-cost")).to_have_text("HK$368.00")
    assert sandbox.sms(HAPPY.mobile) == []
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS
    assert sandbox.statement_kinds(HAPPY.last4) == ["PURCHASE"]


def test_a_double_click_on_use_points_takes_the_points_once(shop: ShopPage, sandbox: SandboxApi, apps: Apps):
    reference = shop.buy(POWER_BANK, HAPPY)
    link_happy_card(shop, sandbox)
    sandbox.add_fault(REDEEM, latency_ms=1000, fail_times=2)  # keep the first click in flight during the second
    shop.points_input.fill("30000")
    log_offset = apps.shop.log_size()

    # Two clicks as a hurried person makes them: the second lands while the first POST is on its way (a
    # synthetic dblclick is folded into one form submission by the browser and would test nothing).
    button = shop.page.get_by_role("button", name="Use points")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with shop.page.expect_request(lambda request: request.method == "POST" and request.url.endswith("/redeem")):
        shop.page.mouse.click(x, y)
    shop.page.mouse.click(x, y)

    shop.expect_order(reference, "Paid with points")
    redeem_posts = f"POST /checkout/{reference}/points/redeem "
    eventually(
        lambda: apps.shop.log_since(log_offset).decode().count(redeem_posts) == 2,
        what="the shop to log both clicks' POSTs",
    )
    expect(shop.tender("points-used")).to_have_text("30,000")
    wait_for_slow_calls_to_finish(sandbox, "/redemption")
    assert [entry["points"] for entry in sandbox.debits_for_order(HAPPY.last4, reference)] == [-30_000]
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 30_000
    assert sandbox.statement_kinds(HAPPY.last4).count("POINTS_CREDIT") == 1


def test_going_back_and_refreshing_after_paying_never_charges_again(shop: ShopPage, sandbox: SandboxApi):
    reference = shop.buy(POWER_BANK, HAPPY)
    shop.expect_points_offer()

    shop.page.go_back()
    shop.page.reload()
    shop.expect_points_offer()  # the paid order's payment page sends the shopper on, not to a new charge
    expect(shop.page.get_by_label("Card number")).to_have_count(0)

    link_happy_card(shop, sandbox)
    shop.use_points(10_000)
    shop.expect_order(reference, "Paid with points")
    shop.page.reload()
    shop.page.go_back()
    shop.page.go_back()
    shop.page.reload()
    shop.goto(f"/checkout/{reference}/payment")
    shop.expect_order(reference, "Paid with points")

    assert sandbox.statement_kinds(HAPPY.last4) == ["PURCHASE", "POINTS_CREDIT"]
    assert sandbox.card(HAPPY.last4)["outstanding"] == "328.00"  # HK$368.00 charged once, HK$40.00 credited once
    assert len(sandbox.redemption_debits(HAPPY.last4)) == 1


def test_a_stale_payment_form_submitted_in_a_second_tab_does_not_charge_the_order_twice(
    shop: ShopPage, context: BrowserContext, sandbox: SandboxApi
):
    shop.add_product(POWER_BANK)
    shop.open_cart()
    reference = shop.checkout()
    second_tab = ShopPage(context.new_page(), shop.base_url)
    second_tab.goto(f"/checkout/{reference}/payment")
    expect(second_tab.heading).to_have_text("Payment")

    shop.pay(HAPPY)
    expect(shop.flash).to_contain_text("•••• 8741 charged")
    second_tab.pay(HAPPY)

    second_tab.expect_points_offer()
    assert sandbox.statement_kinds(HAPPY.last4) == ["PURCHASE"]
    assert sandbox.card(HAPPY.last4)["outstanding"] == "368.00"


def test_two_tabs_redeeming_for_the_same_order_take_points_once(
    shop: ShopPage, context: BrowserContext, sandbox: SandboxApi
):
    reference = shop.buy(POWER_BANK, HAPPY)
    link_happy_card(shop, sandbox)
    second_tab = ShopPage(context.new_page(), shop.base_url)
    second_tab.goto(f"/checkout/{reference}/points")
    expect(second_tab.points_input).to_be_visible()

    shop.use_points(40_000)
    shop.expect_order(reference, "Paid with points")
    second_tab.use_points(60_000)  # a stale page that still offers points

    second_tab.expect_order(reference, "Paid with points")
    expect(second_tab.tender("points-used")).to_have_text("40,000")
    assert [entry["points"] for entry in sandbox.redemption_debits(HAPPY.last4)] == [-40_000]
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 40_000


def test_two_tabs_with_two_orders_cannot_spend_the_same_points_twice(
    shop: ShopPage, context: BrowserContext, sandbox: SandboxApi
):
    first = shop.buy(POWER_BANK, HAPPY)
    link_happy_card(shop, sandbox)
    expect(shop.points_input).to_have_value("92000")
    second_tab = ShopPage(context.new_page(), shop.base_url)
    second = second_tab.buy(POWER_BANK, HAPPY)
    second_tab.expect_points_offer()
    expect(second_tab.points_input).to_have_value("92000")  # linked already: no OTP in the second tab

    shop.use_points()
    shop.expect_order(first, "Paid with points")
    second_tab.use_points()  # the offer it shows is 92,000, but only 28,000 are left

    expect(second_tab.widget).to_contain_text("You can use at most 28,000 points")
    assert sandbox.points(HAPPY.last4) == HAPPY_POINTS - 92_000
    second_tab.use_points(28_000)
    second_tab.expect_order(second, "Paid with points")
    assert sorted(entry["points"] for entry in sandbox.redemption_debits(HAPPY.last4)) == [-92_000, -28_000]
    assert sandbox.points(HAPPY.last4) == 0
