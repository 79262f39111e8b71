"""Harbour Mall as a shopper uses it: account, catalogue and search, cart, checkout, points step, orders."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from playwright.sync_api import Locator, Page, expect

PASSWORD = "correct-horse-42"
# Products with plenty of stock: every test on a worker shares one shop database.
POWER_BANK = ("power-bank-10000", "Slim Power Bank 10,000mAh")  # HK$328 + HK$40 delivery = HK$368.00
NOODLES = ("instant-noodles-5-pack", "Sesame Oil Instant Noodles 5 pack")  # HK$19.90 + HK$40 = HK$59.90
RED_PACKETS = ("lai-see-packets", "Red Packets (Lai See) 50 pcs")  # HK$28.00
EARBUDS = ("wireless-earbuds", "True Wireless Earbuds")  # HK$699, free delivery


@dataclass(frozen=True)
class PaymentCard:
    number: str
    holder: str
    mobile: str = ""
    expiry: str = "12/30"
    cvc: str = "123"

    @property
    def last4(self) -> str:
        return self.number[-4:]


HAPPY = PaymentCard("4966010000008741", "CHAN TAI MAN", "91234567")
LOW_POINTS = PaymentCard("4966010000000102", "WONG SIU MING", "92345678")
PREMIER = PaymentCard("4966020000001190", "LEE KA YAN", "93456789")
DEBIT = PaymentCard("4966030000004300", "CHEUNG WING", "94567890")
FROZEN = PaymentCard("4966010000007404", "HO MEI LING", "95678901")
CREDIT_LIMIT = PaymentCard("4966010000005051", "LAU CHI KEUNG", "96789012")
SMS_UNDELIVERABLE = PaymentCard("4966010000007909", "YIP KA MAN", "90000000")
OTHER_BANK = PaymentCard("4242424242424242", "ALEX OTHER")


class ShopPage:
    """One shopper's browser tab on Harbour Mall."""

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

    # --- Accounts ---------------------------------------------------------------------------------

    def sign_up(self, name: str = "Test Shopper", email: str | None = None, phone: str = "") -> str:
        """Create an account through the sign-up form (signed in afterwards); returns the email."""
        email = email or f"shopper-{uuid.uuid4().hex[:12]}@example.com"
        self.goto("/account/sign-up")
        self.page.get_by_label("Full name").fill(name)
        self.page.get_by_label("Email").fill(email)
        if phone:
            self.page.get_by_label("Mobile number").fill(phone)
        self.page.get_by_label("Password", exact=True).fill(PASSWORD)
        self.page.get_by_label("Confirm password").fill(PASSWORD)
        self.page.get_by_role("button", name="Create account").click()
        expect(self.flash).to_contain_text("Your account is ready")
        return email

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.goto("/account/sign-in")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.flash).to_contain_text("Welcome back")

    # --- Catalogue and cart -----------------------------------------------------------------------

    def search(self, words: str) -> None:
        """Search from the header's search box."""
        box = self.page.get_by_role("searchbox", name="Search products")
        box.fill(words)
        box.press("Enter")
        expect(self.heading).to_contain_text(words)

    def results(self) -> Locator:
        """The product cards of a listing, by their headings."""
        return self.page.locator(".product-grid").get_by_role("heading")

    def open_product(self, name: str) -> None:
        self.page.get_by_role("link", name=re.compile(re.escape(name))).first.click()
        expect(self.heading).to_have_text(name)

    def add_to_cart(self, quantity: int = 1) -> None:
        """On a product page: choose the quantity and add it."""
        if quantity != 1:
            self.page.get_by_label("Quantity").fill(str(quantity))
        self.page.get_by_role("button", name="Add to cart").click()
        expect(self.flash).to_contain_text("to your cart")

    def add_product(self, product: tuple[str, str], quantity: int = 1) -> None:
        """Open a product by its page and add it to the cart."""
        slug, name = product
        self.goto(f"/product/{slug}")
        expect(self.heading).to_have_text(name)
        self.add_to_cart(quantity)

    def cart_count(self) -> Locator:
        return self.page.get_by_test_id("cart-count")

    def open_cart(self) -> None:
        self.page.get_by_role("link", name=re.compile("^Cart")).click()
        expect(self.heading).to_have_text("Your cart")

    def cart_lines(self) -> Locator:
        return self.page.get_by_test_id("cart-line")

    # --- Checkout ---------------------------------------------------------------------------------

    def checkout(self, address: str = "Flat 12A, 88 Harbour Road", district: str = "Wan Chai") -> str:
        """From the cart: Checkout, fill the delivery details; lands on the payment page. Returns the reference."""
        self.page.get_by_role("link", name="Checkout").click()
        expect(self.heading).to_have_text("Delivery details")
        phone = self.page.get_by_label("Mobile for delivery")
        if not phone.input_value():
            phone.fill("61234567")
        self.page.get_by_label("Address").fill(address)
        self.page.get_by_label("District").select_option(district)
        self.page.get_by_role("button", name="Continue to payment").click()
        expect(self.heading).to_have_text("Payment")
        return self.order_reference()

    def order_reference(self) -> str:
        match = re.search(r"/(?:checkout|orders)/(HM-[0-9A-Z-]+)", self.page.url)
        assert match, f"no order reference in {self.page.url}"
        return match.group(1)

    def fill_card(self, card: PaymentCard) -> None:
        self.page.get_by_label("Card number").fill(card.number)
        self.page.get_by_label("Expiry (MM/YY)").fill(card.expiry)
        self.page.get_by_label("CVC").fill(card.cvc)
        self.page.get_by_label("Name on card").fill(card.holder)

    def pay(self, card: PaymentCard) -> None:
        """Fill the card form and press Pay now (the outcome is for the caller to check)."""
        self.fill_card(card)
        self.page.get_by_role("button", name="Pay now").click()

    def buy(self, product: tuple[str, str] = POWER_BANK, card: PaymentCard = HAPPY, quantity: int = 1) -> str:
        """Add a product, check out and pay; returns the order reference."""
        self.add_product(product, quantity)
        self.open_cart()
        reference = self.checkout()
        self.pay(card)
        expect(self.flash).to_contain_text(f"•••• {card.last4} charged")
        return reference

    # --- Pay with Points --------------------------------------------------------------------------

    @property
    def widget(self) -> Locator:
        return self.page.get_by_test_id("pwp-widget")

    def expect_points_offer(self) -> None:
        expect(self.widget).to_be_visible()
        expect(self.page.get_by_role("heading", name=re.compile("Use your Summit Bank points"))).to_be_visible()

    def send_code(self, mobile: str) -> None:
        self.page.get_by_label("Mobile number").fill(mobile)
        self.page.get_by_role("button", name="Send code").click()

    def expect_code_sent(self, masked: str) -> None:
        expect(self.page.get_by_test_id("otp-sent-to")).to_contain_text(masked)

    def verify(self, code: str) -> None:
        self.page.get_by_label("One-time password").fill(code)
        self.page.get_by_role("button", name="Verify").click()

    def resend(self) -> None:
        self.page.get_by_role("button", name="Resend code").click()

    def send_new_code(self) -> None:
        self.page.get_by_role("button", name="Send a new code").click()

    @property
    def balance(self) -> Locator:
        return self.page.get_by_test_id("points-balance")

    @property
    def points_input(self) -> Locator:
        return self.page.get_by_label("Points to use")

    def use_points(self, points: int | None = None) -> None:
        """Choose points (or keep the offered maximum) and press Use points."""
        if points is not None:
            self.points_input.fill(str(points))
        self.page.get_by_role("button", name="Use points").click()

    def skip(self) -> None:
        self.page.get_by_role("button", name="Skip").click()

    # --- Orders -----------------------------------------------------------------------------------

    def open_order(self, reference: str) -> None:
        self.goto(f"/orders/{reference}")
        expect(self.heading).to_have_text(f"Order {reference}")

    def expect_order(self, reference: str, status: str) -> None:
        expect(self.heading).to_have_text(f"Order {reference}")
        expect(self.page.get_by_test_id("order-status")).to_have_text(status)

    def tender(self, name: str) -> Locator:
        """One per-tender amount of the order page: card-charged, points-used, statement-credit, net-cost..."""
        return self.page.get_by_test_id("tenders").get_by_test_id(name)

    def cancel_order(self) -> None:
        self.page.get_by_role("link", name="Cancel order").click()
        self.page.get_by_role("button", name="Yes, cancel order").click()
        expect(self.flash).to_contain_text("is cancelled")

    def cancel_items(self, product_name: str, quantity: int) -> None:
        self.page.get_by_role("link", name=f"Cancel items {product_name}").click()
        self.page.get_by_label("Quantity to cancel").fill(str(quantity))
        self.page.get_by_role("button", name="Yes, cancel these items").click()
        expect(self.flash).to_contain_text(f"Cancelled {quantity} ×")

    def open_history(self) -> None:
        self.page.get_by_role("navigation", name="Your account").get_by_role("link", name="My orders").click()
        expect(self.heading).to_have_text("My orders")
