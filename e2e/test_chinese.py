"""Harbour Mall in Traditional Chinese (Hong Kong): a first-time Pay with Points checkout done entirely in
Chinese, located by the Chinese labels; no English on the main pages but brand names, codes and numbers; axe."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .pages.shop import HAPPY
from .pages.shop_zh import ChineseShopPage, english_words
from .sandbox_api import SandboxApi
from .test_accessibility import AxeAudit

POWER_BANK_ZH = ("power-bank-10000", "纖薄流動充電器 10,000mAh")  # HK$328 + HK$40 delivery = HK$368.00


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


class ChinesePages:
    """Checks each page visited: no English a shopper can read (beyond the allow-list) and no axe blocker."""

    def __init__(self, shop: ChineseShopPage, axe: Axe):
        self.shop = shop
        self.audit = AxeAudit(axe, shop.page)
        self.english: dict[str, list[str]] = {}

    def check(self, name: str) -> None:
        expect(self.shop.page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
        found = self.shop.visible_english()
        if found:
            self.english[name] = found
        self.audit.check(name)

    def assert_clean(self, pages: int) -> None:
        assert len(self.audit.audited) == pages
        assert self.english == {}, f"English text on Chinese pages: {self.english}"
        self.audit.assert_clean()


def test_the_allow_list_lets_brands_codes_and_numbers_through_and_catches_english():
    assert english_words("Harbour Mall 的 Summit Bank 信用卡 HM-000123 SM-001 IPX5 10,000mAh HK$368.00") == []
    assert english_words("加入購物車 Add to cart") == ["Add", "cart", "to"]


def test_a_first_time_shopper_completes_a_pay_with_points_checkout_entirely_in_chinese(
    page: Page, shop_url: str, sandbox: SandboxApi, axe: Axe
):
    shop = ChineseShopPage(page, shop_url)
    pages = ChinesePages(shop, axe)
    shop.goto("/")
    shop.switch_to_chinese()
    expect(shop.page.get_by_role("heading", name="按類別選購")).to_be_visible()
    pages.check("home")

    shop.sign_up()
    shop.search("充電器")
    pages.check("search results")
    shop.open_product(POWER_BANK_ZH[1])
    pages.check("product")
    shop.add_to_cart()
    shop.open_cart()
    pages.check("cart")
    shop.checkout()
    pages.check("checkout: payment")
    shop.pay(HAPPY)
    expect(shop.flash).to_contain_text(f"•••• {HAPPY.last4}")
    expect(shop.page.get_by_role("heading", name="在這次消費使用你的 Summit Bank 積分")).to_be_visible()
    pages.check("points: mobile number")

    shop.send_code(HAPPY.mobile)
    expect(shop.page.get_by_test_id("otp-sent-to")).to_contain_text("****4567")
    pages.check("points: one-time password")
    shop.verify(sandbox.wait_for_otp(HAPPY.mobile))
    expect(shop.flash).to_contain_text("信用卡已驗證")
    expect(shop.page.get_by_test_id("points-balance")).to_contain_text("可用積分：120,000，價值 HK$480.00")
    expect(shop.points_input).to_have_value("92000")
    pages.check("points: choose points")
    shop.use_points()

    expect(shop.flash).to_contain_text("已使用 92,000 積分：HK$368.00 月結單回贈將會記入你的信用卡。")
    expect(shop.page.get_by_test_id("order-status")).to_have_text("已用積分付款")
    expect(shop.page.get_by_test_id("order-confirmed")).to_contain_text("灣仔區")
    expect(shop.tender("card-charged")).to_have_text("HK$368.00")
    expect(shop.tender("points-used")).to_have_text("92,000")
    pages.check("order confirmation")
    shop.open_history()
    pages.check("order history")

    assert sandbox.points(HAPPY.last4) == 120_000 - 92_000
    pages.assert_clean(10)


def test_the_main_catalogue_and_account_pages_in_chinese_show_no_english(page: Page, shop_url: str, axe: Axe):
    shop = ChineseShopPage(page, shop_url)
    pages = ChinesePages(shop, axe)
    shop.goto("/account/sign-in")
    shop.switch_to_chinese()
    expect(shop.heading).to_have_text("登入")
    pages.check("sign in")
    shop.goto("/account/sign-up")
    pages.check("sign up")
    shop.goto("/category/electronics")
    expect(shop.heading).to_have_text("電子產品")
    pages.check("category")
    shop.goto("/search?q=龍蝦刺身")  # the query is echoed: a Chinese one
    pages.check("empty search")
    shop.goto("/cart")
    expect(shop.heading).to_have_text("你的購物車")
    pages.check("empty cart")
    shop.goto("/no-such-page")
    pages.check("not found")
    shop.page.get_by_role("button", name="English").click()
    expect(shop.page.locator("html")).to_have_attribute("lang", "en")
    pages.assert_clean(6)
