"""axe-core on every main page of both apps: no serious or critical violations."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .pages.console import ConsolePage
from .pages.shop import HAPPY, POWER_BANK, ShopPage
from .sandbox_api import PartnerApi, SandboxApi

BLOCKING = ("serious", "critical")


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


class AxeAudit:
    """Runs axe on each page visited and keeps the serious and critical violations by page."""

    def __init__(self, axe: Axe, page: Page):
        self.axe = axe
        self.page = page
        self.audited: list[str] = []
        self.problems: dict[str, list[str]] = {}

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        results = self.axe.run(self.page)
        self.audited.append(name)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                nodes = violation["nodes"][:5]
                details = [f"{', '.join(node['target'])} ({_why(node)})" for node in nodes]
                self.problems.setdefault(name, []).append(
                    f"{violation['impact']} {violation['id']}: {violation['help']}: " + "; ".join(details)
                )

    def assert_clean(self) -> None:
        report = "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in self.problems.items())
        assert not self.problems, f"axe found serious or critical violations on {len(self.problems)} page(s):\n{report}"


def _why(node: dict) -> str:
    """axe's own one-line reason for a node, e.g. the contrast ratio and colours found."""
    checks = node.get("any") or node.get("all") or node.get("none") or []
    return checks[0]["message"] if checks else "no detail"


def test_every_main_page_of_the_shop_has_no_serious_or_critical_accessibility_violations(
    page: Page, shop_url: str, sandbox: SandboxApi, axe: Axe
):
    audit = AxeAudit(axe, page)
    shop = ShopPage(page, shop_url)

    shop.goto("/")
    audit.check("home")
    shop.goto("/account/sign-in")
    audit.check("sign in")
    shop.goto("/account/sign-up")
    audit.check("sign up")
    shop.sign_up()
    shop.goto("/category/electronics")
    audit.check("category")
    shop.search("rice")
    audit.check("search results")
    shop.search("zzqxv")
    audit.check("empty search")
    shop.goto(f"/product/{POWER_BANK[0]}")
    audit.check("product")
    shop.add_to_cart()
    audit.check("cart")
    shop.page.get_by_role("link", name="Checkout").click()
    expect(shop.heading).to_have_text("Delivery details")
    audit.check("checkout: delivery")
    shop.goto("/cart")  # (the delivery form is filled by the page object)
    reference = shop.checkout()
    audit.check("checkout: payment")
    shop.pay(HAPPY)
    shop.expect_points_offer()
    audit.check("points: mobile number")
    shop.send_code(HAPPY.mobile)
    shop.expect_code_sent("****4567")
    audit.check("points: one-time password")
    shop.verify(sandbox.latest_otp(HAPPY.mobile))
    expect(shop.points_input).to_be_visible()
    audit.check("points: choose points")
    shop.use_points(10_000)
    shop.expect_order(reference, "Paid with points")
    audit.check("order confirmation")
    shop.open_history()
    audit.check("order history")
    shop.open_order(reference)
    shop.page.get_by_role("link", name="Cancel order").click()
    audit.check("cancel order")
    shop.goto("/no-such-page")
    audit.check("not found")

    assert len(audit.audited) == 17
    audit.assert_clean()


def enrol_pending_link(partner: PartnerApi, customer_reference: str) -> None:
    """Enrol the happy card for a customer: an SMS in the outbox, a pending link, a logged partner call."""
    enrol = partner.post(
        "/v1/apac/rewards/linkage",
        json={
            "lastFourDigitsCardNumber": HAPPY.last4,
            "citiCardHolderPhoneNumber": HAPPY.mobile,
            "merchantCustomerReferenceId": customer_reference,
        },
    )
    assert enrol.status_code == 200, enrol.text


def test_every_main_page_of_the_console_has_no_serious_or_critical_accessibility_violations(
    new_context, issuer_url: str, partner: PartnerApi, sandbox: SandboxApi, axe: Axe
):
    enrol_pending_link(partner, "C-A11Y")  # data for every list: an SMS, a pending link, logged requests
    console = ConsolePage(new_context().new_page(), issuer_url)
    audit = AxeAudit(axe, console.page)

    console.goto("/login")
    audit.check("sign in")
    console.sign_in()
    audit.check("overview")
    for name, heading in (
        ("Cards", "Cardholders and cards"),
        ("Merchant links", "Merchant links"),
        ("Request log", "Request log"),
        ("Controls", "Controls"),
        ("API reference", "Pay with Points partner API"),
    ):
        console.nav(name)
        expect(console.heading).to_contain_text(heading)
        audit.check(name)
    console.open_phone(HAPPY.mobile)
    expect(console.messages).to_have_count(1)
    audit.check("phone")
    console.open_card(HAPPY.last4)
    audit.check("card and ledger")
    console.goto("/ledger")
    expect(console.heading).to_have_text("Ledger health")
    audit.check("ledger health")
    console.goto("/cardholders/new")
    expect(console.heading).to_have_text("New test cardholder")
    audit.check("new test cardholder")

    assert len(audit.audited) == 11
    audit.assert_clean()
