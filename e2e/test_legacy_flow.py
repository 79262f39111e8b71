"""The old flow end to end, for contrast: the shop offers nothing, the bank texts a link, the cardholder redeems on
Summit Bank's own site, the credit lands on the card's statement and the console counts it under the bank's site."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .harness import E2E_SHOP_SETTINGS, Apps, e2e_apps, e2e_database
from .pages.console import ConsolePage
from .pages.shop import HAPPY, POWER_BANK, ShopPage
from .sandbox_api import SandboxApi

BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def legacy_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    """A pair of its own whose shop runs the legacy flow (SHOP_PWP_FLOW=legacy), on the e2e pass's database.

    Fresh SQLite files, or fresh PostgreSQL databases in the PostgreSQL pass (E2E_DATABASE=postgresql): this
    fixture used to call start_apps with its SQLite defaults, so the legacy pair never ran on PostgreSQL.
    """
    settings = {**E2E_SHOP_SETTINGS, "SHOP_PWP_FLOW": "legacy"}
    with e2e_apps(tmp_path_factory.mktemp("legacy-apps"), shop_settings=settings) as started:
        yield started


@pytest.fixture
def legacy_sandbox(legacy_apps: Apps) -> SandboxApi:
    sandbox = SandboxApi(legacy_apps.issuer_url)
    sandbox.reset()
    return sandbox


def test_the_legacy_pair_runs_on_the_database_of_the_e2e_pass(legacy_apps: Apps):
    """SQLite files in its folder on the SQLite pass, none on the PostgreSQL pass (E2E_DATABASE=postgresql)."""
    files = {path.name for path in legacy_apps.workdir.glob("*.sqlite3")}
    expected = {"issuer.sqlite3", "shop.sqlite3"} if e2e_database() == "sqlite" else set()
    assert files == expected


def assert_accessible(axe: Axe, page: Page, name: str) -> None:
    page.wait_for_load_state("load")
    violations = [v for v in axe.run(page).response["violations"] if v["impact"] in BLOCKING]
    assert not violations, f"{name}: " + "; ".join(f"{v['id']}: {v['help']}" for v in violations)


def test_the_legacy_flow_pays_at_the_shop_then_redeems_on_the_banks_site_from_its_sms(
    page: Page, new_context, legacy_apps: Apps, legacy_sandbox: SandboxApi
):
    axe = Axe()
    shop = ShopPage(page, legacy_apps.shop_url)
    shop.sign_up()
    reference = shop.buy(POWER_BANK, HAPPY)  # HK$368.00

    # The shop offers nothing: a plain paid order, no points step, no code.
    expect(page).to_have_url(re.compile(f"/orders/{reference}$"))
    expect(page.get_by_text("Your order is confirmed")).to_be_visible()
    expect(shop.widget).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Use .* points on this order"))).to_have_count(0)

    # The bank texted its own offer, with a link to its redemption site.
    [offer] = legacy_sandbox.sms(HAPPY.mobile)
    assert "HKD 368.00 at Harbour Mall" in offer["body"] and offer["otp"] is None
    page.goto(re.search(r"https?://\S+", offer["body"]).group())
    expect(page.get_by_role("heading", level=1)).to_have_text("Use your points on a recent purchase")
    assert_accessible(axe, page, "bank site: identify")

    page.get_by_label("Last four digits of your card").fill("8742")
    page.get_by_label("Mobile number").fill("9123 4567")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("alert")).to_contain_text("No Summit Bank card matches those last four digits")
    page.get_by_label("Last four digits of your card").fill("8741")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    expect(page.get_by_text("****4567")).to_be_visible()
    assert_accessible(axe, page, "bank site: code")

    code = legacy_sandbox.wait_for_otp(HAPPY.mobile)
    wrong = "000000" if code != "000000" else "111111"
    page.get_by_label("One-time password").fill(wrong)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That code is not right. 4 attempt(s) left.")).to_be_visible()
    page.get_by_label("One-time password").fill(code)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your recent purchases")
    expect(page.get_by_text("120,000 points")).to_be_visible()
    purchase = page.get_by_role("row").filter(has_text=reference)
    expect(purchase).to_contain_text("HK$368.00")
    expect(purchase.get_by_role("radio")).to_be_checked()  # the purchase the SMS was about
    assert_accessible(axe, page, "bank site: purchases")

    page.get_by_label("Points to redeem").fill("500")
    page.get_by_role("button", name="Redeem points").click()
    expect(page.get_by_role("alert")).to_contain_text("Redeem at least 1000 points.")
    page.get_by_label("Points to redeem").fill("25000")
    page.get_by_role("button", name="Redeem points").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Points redeemed")
    expect(page.get_by_text("25,000 points became a statement credit of HK$100.00")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=f"Rewards site credit: Harbour Mall {reference}")).to_contain_text(
        "-HK$100.00"
    )
    assert_accessible(axe, page, "bank site: redeemed")

    # The credit is on the card's statement, against that purchase, from the same ledger.
    assert legacy_sandbox.points(HAPPY.last4) == 120_000 - 25_000
    assert legacy_sandbox.statement_kinds(HAPPY.last4) == ["PURCHASE", "POINTS_CREDIT"]
    credit = legacy_sandbox.statement(HAPPY.last4)[-1]
    assert credit["reference"] == reference and credit["amount"] == "-100.00"
    # The purchase is redeemed once: the site no longer offers it.
    page.goto(f"{legacy_apps.issuer_url}/rewards/purchases")
    expect(page.get_by_role("row").filter(has_text=reference)).to_have_count(0)

    # The console's programme insights count it under the bank's site; the shop never saw it.
    console = ConsolePage(new_context().new_page(), legacy_apps.issuer_url)
    console.sign_in()
    console.nav("Programme insights")
    expect(console.heading).to_have_text("Programme insights")
    uptake = console.page.get_by_test_id("uptake-table").get_by_role("row").filter(has_text="On the bank's site")
    expect(uptake.get_by_role("cell")).to_have_text(["legacy", "1", "1", "100.0%"])
    by_channel = console.page.get_by_test_id("channel-table").get_by_role("row").filter(has_text="On the bank's site")
    expect(by_channel.get_by_role("cell")).to_have_text(["1", "25,000", "HK$100.00", "0"])
    assert_accessible(axe, console.page, "console: programme insights")
    shop.open_order(reference)
    expect(page.get_by_text("Paid with points")).to_have_count(0)

    # The shop cancels the order and refunds the card in full: it knows nothing of the credit, so the bank
    # reverses it itself: the points come back and the statement shows the credit reversed after the refund.
    shop.cancel_order()
    assert legacy_sandbox.points(HAPPY.last4) == 120_000
    assert legacy_sandbox.statement_kinds(HAPPY.last4) == [
        "PURCHASE",
        "POINTS_CREDIT",
        "REFUND",
        "POINTS_CREDIT_REVERSAL",
    ]
    refund, reversal = legacy_sandbox.statement(HAPPY.last4)[-2:]
    assert (refund["amount"], reversal["amount"]) == ("-368.00", "100.00")
    assert reversal["description"] == f"Pay with Points credit reversed: Harbour Mall {reference}"
    console.page.reload()
    expect(by_channel.get_by_role("cell")).to_have_text(["1", "25,000", "HK$100.00", "25,000"])
