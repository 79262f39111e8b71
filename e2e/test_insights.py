"""Shop insights after three real checkouts in the browser: one redeems, one skips, one abandons at the OTP.

This module runs on a pair of apps of its own (fresh databases), so the page counts exactly these three checkouts
and nothing another e2e test bought on the same worker. Every tab is a context of its own (``browser``, not
pytest-playwright's ``page``, whose session-wide base URL is the shared pair's).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urljoin

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from .harness import E2E_SHOP_SETTINGS, Apps, e2e_database, fresh_postgres_databases, start_apps
from .pages.shop import HAPPY, LOW_POINTS, NOODLES, POWER_BANK, PREMIER, RED_PACKETS, ShopPage
from .sandbox_api import SandboxApi
from .test_accessibility import AxeAudit

STAFF_EMAIL, STAFF_PASSWORD = "ops@harbourmall.example", "demo1234"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    """Both apps with fresh databases for this module only (as conftest's pair, SQLite or PostgreSQL)."""
    workdir = tmp_path_factory.mktemp(f"insights-apps-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    with ExitStack() as cleanup:
        issuer_settings: dict[str, str] = {}
        shop_settings = dict(E2E_SHOP_SETTINGS)
        if e2e_database() == "postgresql":
            urls = cleanup.enter_context(fresh_postgres_databases(os.environ["TEST_POSTGRES_URL"]))
            issuer_settings["ISSUER_DATABASE_URL"] = urls["issuer"]
            shop_settings["SHOP_DATABASE_URL"] = urls["shop"]
        started = start_apps(workdir, issuer_settings=issuer_settings, shop_settings=shop_settings)
        cleanup.callback(started.stop)
        yield started


@pytest.fixture(scope="module")
def shop_url(apps: Apps) -> str:
    return apps.shop_url


@pytest.fixture(scope="module")
def sandbox(apps: Apps) -> SandboxApi:
    return SandboxApi(apps.issuer_url)


def new_tab(browser: Browser, shop_url: str, cleanup: ExitStack) -> ShopPage:
    """A tab in a fresh browser context (its own cookies), closed on cleanup."""
    context = browser.new_context()
    cleanup.callback(context.close)
    return ShopPage(context.new_page(), shop_url)


def new_shopper(browser: Browser, shop_url: str, cleanup: ExitStack) -> ShopPage:
    """A shopper of their own, signed up through the shop's form."""
    shopper = new_tab(browser, shop_url, cleanup)
    shopper.sign_up()
    return shopper


def redeem(shopper: ShopPage, sandbox: SandboxApi) -> str:
    reference = shopper.buy(POWER_BANK, HAPPY)
    shopper.expect_points_offer()
    shopper.send_code(HAPPY.mobile)
    shopper.verify(sandbox.wait_for_otp(HAPPY.mobile))
    expect(shopper.flash).to_contain_text("Card verified")
    shopper.use_points(25_000)
    shopper.expect_order(reference, "Paid with points")
    return reference


def skip(shopper: ShopPage) -> str:
    reference = shopper.buy(RED_PACKETS, PREMIER)
    shopper.expect_points_offer()
    shopper.skip()
    shopper.expect_order(reference, "Paid")
    return reference


def abandon_at_the_otp(shopper: ShopPage, sandbox: SandboxApi) -> str:
    """Pays, asks for the code, receives it, and leaves without typing it."""
    reference = shopper.buy(NOODLES, LOW_POINTS)
    shopper.expect_points_offer()
    shopper.send_code(LOW_POINTS.mobile)
    shopper.expect_code_sent("****5678")
    sandbox.wait_for_otp(LOW_POINTS.mobile)
    shopper.goto("/")
    return reference


def funnel_count(page: Page, step: str) -> str:
    return page.get_by_test_id(f"funnel-{step}").get_by_test_id("count").inner_text()


def read_csv(page: Page, link_name: str) -> list[list[str]]:
    """Follow one of the page's CSV links with the staff session's cookies."""
    href = page.get_by_role("link", name=link_name).get_attribute("href")
    response = page.request.get(urljoin(page.url, href))
    assert response.status == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text())))


def test_three_checkouts_show_on_the_insights_page_with_one_of_three_uptake_and_a_matching_csv(
    browser: Browser, shop_url: str, sandbox: SandboxApi
):
    with ExitStack() as cleanup:
        redeemed = redeem(new_shopper(browser, shop_url, cleanup), sandbox)
        skipped = skip(new_shopper(browser, shop_url, cleanup))
        shopper = new_shopper(browser, shop_url, cleanup)
        abandoned = abandon_at_the_otp(shopper, sandbox)

        # A shopper is not staff: a friendly 403, no figures.
        response = shopper.page.goto(f"{shop_url}/insights")
        assert response is not None and response.status == 403
        expect(shopper.heading).to_have_text("Insights are for shop staff")
        expect(shopper.page.get_by_test_id("kpi-purchases")).to_have_count(0)

        staff = new_tab(browser, shop_url, cleanup)
        staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD)
        staff.goto("/insights")
        check_the_page_and_its_csvs(staff.page, {redeemed: "redeemed", skipped: "skipped", abandoned: "abandoned"})
        audit = AxeAudit(Axe(), staff.page)
        audit.check("insights")
        for summary in staff.page.locator("details > summary").all():  # definitions and the charts' tables
            summary.click()
        audit.check("insights, every detail open")
        audit.assert_clean()


def check_the_page_and_its_csvs(page: Page, outcomes: dict[str, str]) -> None:
    """Exactly the three journeys on the page: 1 of 3 uptake, the funnel; both CSVs say the same."""
    expect(page.get_by_role("heading", name="Headline figures")).to_be_visible()
    expect(page.get_by_test_id("kpi-purchases").locator(".kpi__value")).to_have_text("3")
    expect(page.get_by_test_id("kpi-uptake").locator(".kpi__value")).to_have_text("33.3%")
    expect(page.get_by_test_id("kpi-uptake")).to_contain_text("1 of 3 purchases redeemed points")
    expect(page.get_by_test_id("kpi-points").locator(".kpi__value")).to_have_text("25,000")
    expect(page.get_by_test_id("kpi-points")).to_contain_text("HK$100.00 credited to cards")
    steps = {key: funnel_count(page, key) for key in ("paid", "offer_shown", "code_sent", "linked", "points_redeemed")}
    assert steps == {"paid": "3", "offer_shown": "3", "code_sent": "2", "linked": "1", "points_redeemed": "1"}
    expect(page.get_by_test_id("simulated-note")).to_have_text("0 of the shown journeys are simulated.")

    figures = dict(read_csv(page, "Download the figures (CSV)")[1:])
    assert figures["purchases_paid_with_points_card"] == "3"
    assert figures["purchases_that_redeemed_points"] == "1"
    assert figures["uptake_percent"] == "33.3"
    assert figures["points_redeemed"] == "25000" and figures["credit_hkd"] == "100.00"
    assert {key: figures[f"funnel_{key}_count"] for key in steps} == steps

    journeys = read_csv(page, "Download the journeys (CSV)")
    header, rows = journeys[0], journeys[1:]
    assert {row[header.index("reference")]: row[header.index("outcome")] for row in rows} == outcomes
    sent = {row[header.index("outcome")]: row[header.index("codes_sent")] for row in rows}
    assert sent == {"redeemed": "1", "skipped": "0", "abandoned": "1"}


def test_the_hide_simulated_checkbox_sits_beside_its_label_and_staff_are_greeted_by_role(
    browser: Browser, shop_url: str
) -> None:
    with ExitStack() as cleanup:
        staff = new_tab(browser, shop_url, cleanup)
        staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD)
        staff.goto("/insights")
        expect(staff.page.get_by_text("Hi, Ops", exact=True)).to_be_visible()
        checkbox = staff.page.get_by_role("checkbox", name="Hide simulated journeys")
        expect(checkbox).to_be_visible()
        label = staff.page.locator("label[for='hide_simulated']")
        box, text = checkbox.bounding_box(), label.bounding_box()
        assert box is not None and text is not None
        # Beside, like a form's checkbox: to the left of its label, on the same line (their middles level).
        assert box["x"] + box["width"] <= text["x"]
        assert abs((box["y"] + box["height"] / 2) - (text["y"] + text["height"] / 2)) < text["height"] / 2
