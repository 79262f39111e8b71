"""Summit Bank's sandbox in Traditional Chinese (Hong Kong): the header's English / 繁 switch on the console and
on the bank's redemption site, remembered from page to page, and axe on the Chinese pages of both."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .harness import CONSOLE_PASSWORD
from .pages.console import ConsolePage
from .pages.shop import HAPPY
from .sandbox_api import PartnerApi, SandboxApi
from .test_accessibility import AxeAudit, enrol_pending_link


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


def switch_to(page: Page, button: str, lang: str) -> None:
    """Press a language button in the header; the same page comes back in that language."""
    page.get_by_role("form", name="語言" if lang == "en" else "Language").get_by_role(
        "button", name=button, exact=True
    ).click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def pay_at_the_mall(partner: PartnerApi, reference: str, amount_cents: int = 52000) -> None:
    """A card payment through the gateway in the old flow, so the bank's site has a purchase to offer."""
    body = {
        "amount": amount_cents,
        "currency": "HKD",
        "card": {
            "number": HAPPY.number,
            "expiryMonth": 12,
            "expiryYear": date.today().year + 3,
            "cvc": "123",
            "holderName": "CHAN TAI MAN",
        },
        "merchantReference": reference,
        "payWithPointsFlow": "legacy",
    }
    response = partner.post("/gateway/v1/payments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.text


def test_the_console_switches_to_chinese_remembers_it_and_switches_back(console: ConsolePage):
    console.goto("/")
    expect(console.heading).to_have_text("Overview")
    switch_to(console.page, "繁", "zh-Hant-HK")
    expect(console.heading).to_have_text("概覽")

    # The choice is remembered: the next pages come in Chinese without asking again.
    console.page.get_by_role("navigation", name="控制台").get_by_role("link", name="信用卡", exact=True).click()
    expect(console.heading).to_have_text("持卡人及信用卡")
    expect(console.page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    console.page.get_by_role("navigation", name="控制台").get_by_role("link", name="API 參考", exact=True).click()
    expect(console.page.get_by_role("heading", name="目錄")).to_be_visible()
    expect(console.page.get_by_role("heading", name="測試信用卡")).to_be_visible()

    switch_to(console.page, "English", "en")
    expect(console.page.get_by_role("heading", name="Contents")).to_be_visible()
    console.nav("Cards")
    expect(console.heading).to_have_text("Cardholders and cards")
    expect(console.page.locator("html")).to_have_attribute("lang", "en")


def test_the_bank_site_switches_to_chinese_remembers_it_and_switches_back(
    page: Page, issuer_url: str, partner: PartnerApi, sandbox: SandboxApi
):
    pay_at_the_mall(partner, "HM-ZH-0001")
    page.goto(f"{issuer_url}/rewards/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Use your points on a recent purchase")
    switch_to(page, "繁", "zh-Hant-HK")
    expect(page.get_by_role("heading", level=1)).to_have_text("以積分抵銷近期消費")

    page.get_by_label("信用卡號碼最後四位數字").fill(HAPPY.last4)
    page.get_by_label("手提電話號碼").fill(HAPPY.mobile)
    page.get_by_role("button", name="發送一次性密碼").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("輸入一次性密碼")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")

    switch_to(page, "English", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")


def test_the_chinese_console_and_bank_site_have_no_serious_or_critical_accessibility_violations(
    new_context, issuer_url: str, partner: PartnerApi, sandbox: SandboxApi, axe: Axe
):
    # Data for every list: an SMS and a pending link, a purchase the bank's site offers, logged requests.
    enrol_pending_link(partner, "C-A11Y-ZH")
    pay_at_the_mall(partner, "HM-ZH-0002")

    console = ConsolePage(new_context().new_page(), issuer_url)
    audit = AxeAudit(axe, console.page)
    console.goto("/login")
    switch_to(console.page, "繁", "zh-Hant-HK")
    audit.check("sign in")
    console.page.get_by_label("控制台密碼").fill(CONSOLE_PASSWORD)
    console.page.get_by_role("button", name="登入").click()
    expect(console.page.get_by_role("button", name="登出")).to_be_visible()
    audit.check("overview")
    for link, heading in (
        ("信用卡", "持卡人及信用卡"),
        ("商戶連結", "商戶連結"),
        ("請求紀錄", "請求紀錄"),
        ("計劃分析", "計劃分析"),
        ("控制項", "控制項"),
        ("API 參考", "Summit Bank 沙盒：Pay with Points 合作夥伴 API 及信用卡收款閘道"),
    ):
        console.page.get_by_role("navigation", name="控制台").get_by_role("link", name=link, exact=True).click()
        expect(console.heading).to_contain_text(heading)
        audit.check(link)
    for path, heading in (
        (f"/cards/{HAPPY.last4}", HAPPY.last4),
        (f"/phone?phone={HAPPY.mobile}", "手提電話"),
        ("/ledger", "賬簿狀況"),
        ("/cardholders/new", "新增測試持卡人"),
    ):
        console.goto(path)
        expect(console.heading).to_contain_text(heading)
        audit.check(path)

    site = new_context().new_page()
    site_audit = AxeAudit(axe, site)
    site.goto(f"{issuer_url}/rewards/")
    switch_to(site, "繁", "zh-Hant-HK")
    site_audit.check("bank site: identify")
    site.get_by_label("信用卡號碼最後四位數字").fill(HAPPY.last4)
    site.get_by_label("手提電話號碼").fill(HAPPY.mobile)
    sent = len(sandbox.sms(HAPPY.mobile))
    site.get_by_role("button", name="發送一次性密碼").click()
    expect(site.get_by_role("heading", level=1)).to_have_text("輸入一次性密碼")
    site_audit.check("bank site: code")
    site.get_by_label("一次性密碼", exact=True).fill(sandbox.wait_for_otp(HAPPY.mobile, count=sent + 1))
    site.get_by_role("button", name="登入").click()
    expect(site.get_by_role("heading", level=1)).to_have_text("你的近期消費")
    site_audit.check("bank site: purchases")
    site.get_by_label("兌換積分", exact=True).fill("25000")
    site.get_by_role("button", name="兌換積分").click()
    expect(site.get_by_role("heading", level=1)).to_have_text("積分已兌換")
    expect(site.get_by_role("row").filter(has_text="積分網站回贈：Harbour Mall HM-ZH-0002")).to_be_visible()
    site_audit.check("bank site: redeemed")

    assert len(audit.audited) == 12 and len(site_audit.audited) == 4
    audit.assert_clean()
    site_audit.assert_clean()
