"""Harbour Mall in Traditional Chinese: the shopper's steps located by the Chinese labels a Hong Kong shopper
reads (the English page object is e2e/pages/shop.py; its card, product and password data are shared)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

from .shop import PASSWORD, PaymentCard

# Latin words a Chinese page may show: brand names, the language switch, codes and units.
ALLOWED_LATIN = frozenset(
    {
        "Harbour",
        "Mall",
        "Summit",
        "Bank",
        "Pay",
        "with",
        "Points",
        "Rewards",
        "VISA",
        "Mastercard",  # brands
        "English",  # the switch back
        "HK",
        "CVC",
        "MM",
        "YY",
        "YYYY",
        "DD",
        "UTC",
        "CSV",
        "SMS",
        "OTP",  # currency, card and date codes
        "SPF",
        "PA",
        "USB",
        "Wi",
        "Fi",
        "GaN",
        "mAh",
        "IPX",
        "IP",
        "Bluetooth",  # product codes and units
    }
)
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_CODES = re.compile(r"\S+@\S+|HM-[0-9A-Z-]+|[A-Z]{2}-\d{3}|\b[A-Za-z]*\d[A-Za-z0-9]*\b")


def english_words(text: str) -> list[str]:
    """The Latin words of a page's text that are not on the allow-list (e-mails, order references, SKUs and
    words with digits such as 10,000mAh or IPX5 are codes and numbers, not English)."""
    words = _LATIN_WORD.findall(_CODES.sub(" ", text))
    return sorted({word for word in words if word not in ALLOWED_LATIN})


class ChineseShopPage:
    """One shopper's tab on Harbour Mall, switched to 繁 with the header's switch."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url.rstrip("/")

    def goto(self, path: str = "/") -> None:
        self.page.goto(f"{self.base_url}{path}")

    @property
    def flash(self) -> Locator:
        return self.page.locator(".flashes")

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    def switch_to_chinese(self) -> None:
        """Press 繁 in the header; the same page comes back in Chinese."""
        self.page.get_by_role("button", name="繁體中文").click()
        expect(self.page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")

    def visible_english(self) -> list[str]:
        """English words a shopper can see on this page (see english_words)."""
        self.page.wait_for_load_state("load")
        return english_words(self.page.locator("body").inner_text())

    # --- Accounts ---------------------------------------------------------------------------------

    def sign_up(self, name: str = "陳小明", email: str | None = None) -> str:
        email = email or f"zh-shopper-{uuid.uuid4().hex[:12]}@example.com"
        self.goto("/account/sign-up")
        self.page.get_by_label("姓名").fill(name)
        self.page.get_by_label("電郵地址").fill(email)
        self.page.get_by_label("密碼", exact=True).fill(PASSWORD)
        self.page.get_by_label("確認密碼").fill(PASSWORD)
        self.page.get_by_role("button", name="建立帳戶").click()
        expect(self.flash).to_contain_text("你的帳戶已準備就緒")
        return email

    # --- Catalogue, cart and checkout -------------------------------------------------------------

    def search(self, words: str) -> None:
        box = self.page.get_by_role("searchbox", name="搜尋產品")
        box.fill(words)
        box.press("Enter")
        expect(self.heading).to_contain_text(words)

    def results(self) -> Locator:
        return self.page.locator(".product-grid").get_by_role("heading")

    def open_product(self, name: str) -> None:
        self.page.get_by_role("link", name=re.compile(re.escape(name))).first.click()
        expect(self.heading).to_have_text(name)

    def add_to_cart(self) -> None:
        self.page.get_by_role("button", name="加入購物車").click()
        expect(self.flash).to_contain_text("加入購物車")

    def open_cart(self) -> None:
        self.page.get_by_role("link", name=re.compile("^購物車")).click()
        expect(self.heading).to_have_text("你的購物車")

    def checkout(self, address: str = "灣仔港灣道88號12樓A室", district: str = "灣仔區") -> None:
        self.page.get_by_role("link", name="結帳").click()
        expect(self.heading).to_have_text("送貨資料")
        phone = self.page.get_by_label("送貨聯絡手提電話")
        if not phone.input_value():
            phone.fill("61234567")
        self.page.get_by_label("送貨地址").fill(address)
        self.page.get_by_label("地區").select_option(label=district)
        self.page.get_by_role("button", name="繼續付款").click()
        expect(self.heading).to_have_text("付款")

    def pay(self, card: PaymentCard) -> None:
        self.page.get_by_label("信用卡號碼").fill(card.number)
        self.page.get_by_label("到期日").fill(card.expiry)
        self.page.get_by_label("CVC 保安碼").fill(card.cvc)
        self.page.get_by_label("持卡人姓名").fill(card.holder)
        self.page.get_by_role("button", name="立即付款").click()

    # --- Pay with Points --------------------------------------------------------------------------

    @property
    def widget(self) -> Locator:
        return self.page.get_by_test_id("pwp-widget")

    def send_code(self, mobile: str) -> None:
        self.page.get_by_label("手提電話號碼").fill(mobile)
        self.page.get_by_role("button", name="發送密碼").click()

    def verify(self, code: str) -> None:
        self.page.get_by_label("一次性密碼").fill(code)
        self.page.get_by_role("button", name="驗證").click()

    @property
    def points_input(self) -> Locator:
        return self.page.get_by_label("使用積分", exact=True)

    def use_points(self) -> None:
        self.page.get_by_role("button", name="使用積分").click()

    def tender(self, name: str) -> Locator:
        return self.page.get_by_test_id("tenders").get_by_test_id(name)

    def open_history(self) -> None:
        self.page.get_by_role("navigation", name="你的帳戶").get_by_role("link", name="我的訂單").click()
        expect(self.heading).to_have_text("我的訂單")
