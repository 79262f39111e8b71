"""One simulated shopper's checkouts, step by step through the shop's real pages, as their plan says.

The native journey: sign up, fill the cart from product pages, delivery details, pay with the card, then the
bank's Pay with Points step inside the shop (send the code, read the real OTP from the sandbox SMS outbox,
perhaps a wrong code first, choose the points) or skip it, or walk away at the code.

The legacy journey (the old flow, for contrast) switches the shopper's session to the legacy flow through the
shop's own switch (``POST /insights/flow``) and pays; the rest happens at the bank: its SMS with a link (read from
the sandbox outbox), then its own redemption site (identify, the texted code, the purchase and the points).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

from ..checkout.forms import HK_DISTRICTS
from .choices import JourneyPlan, ShopperPlan, points_to_use
from .html_forms import find_form, find_form_with, has_form, has_form_with
from .sandbox import SandboxApi, SimulationError, TestCard
from .shop_browser import ShopBrowser

OTHER_BANK_CARD = "4242424242424242"  # DESIGN.md: another bank's card, pays, no points offer
PAYMENT_PATH = re.compile(r"^/checkout/(HM-\d+)/payment$")
POINTS_PATH = re.compile(r"^/checkout/(HM-\d+)/points$")
ORDER_PATH = re.compile(r"^/orders/(HM-\d+)$")
POINTS_USED = re.compile(r'data-testid="points-used">([\d,]+)<')
SOLD_OUT = 'data-testid="stock">Sold out<'
OUTCOMES = ("redeemed", "skipped", "abandoned", "no_points_card")


@dataclass(frozen=True)
class Shopper:
    """Who the simulated shopper is: their sign-up details and the card they pay with."""

    name: str
    email: str
    password: str
    mobile: str
    card_number: str
    customer_reference: str = ""  # merchantCustomerReferenceId, known once the shop created the account


@dataclass(frozen=True)
class JourneyOutcome:
    """How one checkout ended: one of OUTCOMES, the order and the points it used."""

    outcome: str
    reference: str
    points: int = 0


def new_shopper(plan: ShopperPlan, run_id: str, card: TestCard | None) -> Shopper:
    """The shopper's identity for this run (unique per run, so a seed can be replayed on the same shop)."""
    name = f"Simulated Shopper {plan.number}"
    mobile = card.mobile if card is not None else f"5{secrets.randbelow(10**7):07d}"
    return Shopper(
        name=name,
        email=f"sim-{run_id}-{plan.number}@example.com",
        password=secrets.token_urlsafe(12),
        mobile=mobile,
        card_number=card.number if card is not None else OTHER_BANK_CARD,
    )


def sign_up(browser: ShopBrowser, shopper: Shopper) -> None:
    """Create the shopper's account through the sign-up form; signed in afterwards."""
    browser.open("/account/sign-up")
    browser.submit(
        "/account/sign-up",
        name=shopper.name,
        email=shopper.email,
        phone=shopper.mobile,
        password=shopper.password,
        confirm=shopper.password,
    )
    if not has_form(browser.page, "/account/sign-out"):
        raise SimulationError(f"The sign-up of {shopper.email} did not sign the shopper in{browser.flash_note()}.")


def fill_cart(browser: ShopBrowser, plan: JourneyPlan) -> int:
    """Add each planned product from its own page (one sold out since the plan was drawn is passed over).

    Returns how many lines went in; a cart that stays empty fails the journey.
    """
    added = 0
    for item in plan.cart:
        browser.open(f"/product/{item.slug}")
        if not has_form(browser.page, "/cart/add") and SOLD_OUT in browser.page:
            continue  # earlier shoppers of this run bought the last ones, as happens in a real shop
        browser.submit("/cart/add", quantity=str(item.quantity))
        if browser.path != "/cart":
            raise SimulationError(f"Adding {item.slug} to the cart did not reach the cart{browser.flash_note()}.")
        added += 1
    if not added:
        raise SimulationError("Every product of the planned cart was sold out.")
    return added


def place_order(browser: ShopBrowser, shopper: Shopper, district: str) -> str:
    """Delivery details: the order's reference (the shop sends the shopper on to its payment page)."""
    browser.open("/checkout")
    location = browser.submit(
        "/checkout", name=shopper.name, phone=shopper.mobile, address="1 Harbour Road", district=district
    )
    match = PAYMENT_PATH.match(location)
    if match is None:
        raise SimulationError(f"The delivery details led to {location}, not a payment page{browser.flash_note()}.")
    return match.group(1)


def pay(browser: ShopBrowser, shopper: Shopper, reference: str) -> str:
    """Pay with the shopper's card; where the shop sent them (its points step or the order)."""
    expiry_year = (datetime.now(UTC).year + 3) % 100
    location = browser.submit(
        "/payment",
        card_number=shopper.card_number,
        expiry=f"12/{expiry_year:02d}",
        cvc="123",
        holder_name=shopper.name.upper(),
    )
    if not (POINTS_PATH.match(location) or ORDER_PATH.match(location)):
        raise SimulationError(f"Paying {reference} led to {location}{browser.flash_note()}.")
    return location


def district_for(plan: ShopperPlan) -> str:
    return HK_DISTRICTS[plan.number % len(HK_DISTRICTS)]


class NativeJourney:
    """The native flow: points at checkout, through the bank's widget in the shop."""

    flow = "native"

    def __init__(self, browser: ShopBrowser, sandbox: SandboxApi, shopper: Shopper) -> None:
        self.browser = browser
        self.sandbox = sandbox
        self.shopper = shopper
        self._sms_before = 0  # the newest SMS id before the shopper asked for a code (theirs comes after)

    def choose_flow(self) -> None:
        """Nothing to switch: the native flow is the shop's default (SHOP_PWP_FLOW)."""

    def run(self, plan: JourneyPlan, district: str) -> JourneyOutcome:
        self.choose_flow()  # before the order: the shop records the flow on the order it creates
        fill_cart(self.browser, plan)
        reference = place_order(self.browser, self.shopper, district)
        location = pay(self.browser, self.shopper, reference)
        if ORDER_PATH.match(location):
            return JourneyOutcome("no_points_card", reference)
        return self.points_step(plan, reference)

    def points_step(self, plan: JourneyPlan, reference: str) -> JourneyOutcome:
        """The bank's widget: skip it, or link the card (unless already linked) and use points."""
        browser = self.browser
        if not plan.accept_offer:
            return self.skip(reference)
        code_sent_here = False
        for _ in range(6):  # enrol, (wrong code,) code, points: a few pages at most
            if has_form(browser.page, "/points/send-code"):
                self.send_code()
                code_sent_here = True
            elif has_form(browser.page, "/points/verify"):
                if not code_sent_here:
                    # A code from an earlier visit is waiting (the shopper walked away then): start afresh.
                    browser.submit("/points/restart", button="restart")
                    continue
                if plan.abandon_at_otp:
                    return JourneyOutcome("abandoned", reference)
                self.verify(plan)
            elif has_form(browser.page, "/points/redeem"):
                return self.redeem(plan, reference)
            elif 'data-testid="not-enough-points"' in browser.page:
                return self.skip(reference)
            else:
                raise SimulationError(f"The points step of {reference} showed no step to take{browser.flash_note()}.")
        raise SimulationError(f"The points step of {reference} did not reach the points{browser.flash_note()}.")

    def skip(self, reference: str) -> JourneyOutcome:
        location = self.browser.submit("/points/skip", button="skip")
        if not ORDER_PATH.match(location):
            raise SimulationError(f"Skipping points on {reference} led to {location}.")
        return JourneyOutcome("skipped", reference)

    def send_code(self) -> None:
        shopper = self.shopper
        self._sms_before = self.sandbox.latest_sms_id(shopper.mobile, shopper.customer_reference)
        self.browser.submit("/points/send-code", phone=shopper.mobile)
        if not has_form(self.browser.page, "/points/verify") and not has_form(self.browser.page, "/points/redeem"):
            raise SimulationError(f"Asking for a code did not lead to the code step{self.browser.flash_note()}.")

    def verify(self, plan: JourneyPlan) -> None:
        shopper = self.shopper
        otp = self.sandbox.wait_for_otp(shopper.mobile, shopper.customer_reference, self._sms_before)
        if plan.wrong_code:
            wrong = f"{(int(otp) + 1) % 1_000_000:06d}"
            self.browser.submit("/points/verify", otp=wrong)
            if not has_form(self.browser.page, "/points/verify"):
                raise SimulationError(f"After a wrong code the code step was gone{self.browser.flash_note()}.")
        self.browser.submit("/points/verify", otp=otp)
        if not has_form(self.browser.page, "/points/redeem") and "not-enough-points" not in self.browser.page:
            raise SimulationError(f"The code from the SMS was not accepted{self.browser.flash_note()}.")

    def redeem(self, plan: JourneyPlan, reference: str) -> JourneyOutcome:
        form = find_form(self.browser.page, "/points/redeem")
        try:
            minimum, maximum, increment = (int(form.attributes[f"data-{name}"]) for name in ("min", "max", "increment"))
        except (KeyError, ValueError) as error:
            raise SimulationError(f"The points form of {reference} does not say its limits.") from error
        if plan.use_max:
            location = self.browser.submit("/points/redeem", button="use_max")
        else:
            chosen = points_to_use(plan, minimum, maximum, increment)
            location = self.browser.submit("/points/redeem", button="submit", points=str(chosen))
        used = POINTS_USED.search(self.browser.page)
        if not ORDER_PATH.match(location) or used is None or used.group(1) in ("0", ""):
            raise SimulationError(f"Using points on {reference} did not apply them{self.browser.flash_note()}.")
        return JourneyOutcome("redeemed", reference, int(used.group(1).replace(",", "")))


# What the bank's purchases page says of the card and of each purchase (see bank_site_points).
BANK_SITE_LEAD = re.compile(
    r"<strong>([\d,]+) points</strong> available\.\s*Redeem at least ([\d,]+) points, in steps of (\d+);"
    r"\s*each point is worth HK\$([\d.]+)\."
)
BANK_SITE_PURCHASE = (
    r'<input type="radio" name="purchase" id="[^"]*" value="{value}"[^>]*>\s*<label[^>]*>.*?HK\$([\d,]+\.\d\d)</label>'
)
REDEEMED_PATH = re.compile(r"^/rewards/redeemed/[^/]+$")
POINTS_CREDITED = re.compile(r"([\d,]+) points became a statement credit")


def bank_site_points(page: str, purchase: str, plan: JourneyPlan) -> int:
    """The points to redeem on the bank's purchases page against ``purchase`` (its payment id), as the plan says.

    The most is what the card holds or what covers the whole purchase, whichever is less, in whole increments.
    Raises SimulationError when the page does not state its limits or the purchase (the site changed).
    """
    lead = BANK_SITE_LEAD.search(page)
    row = re.search(BANK_SITE_PURCHASE.format(value=re.escape(purchase)), page, re.DOTALL)
    if lead is None or row is None:
        raise SimulationError("The bank's purchases page does not state the points limits or the chosen purchase.")
    available, minimum, increment = (int(text.replace(",", "")) for text in lead.groups()[:3])
    rate, amount = Decimal(lead.group(4)), Decimal(row.group(1).replace(",", ""))
    covering = int(amount / rate) if rate > 0 else 0
    maximum = min(available, covering)
    maximum -= maximum % max(increment, 1)
    if maximum < minimum:
        raise SimulationError(f"The card cannot redeem the minimum of {minimum} points on that purchase.")
    return points_to_use(plan, minimum, maximum, increment)


class LegacyJourney(NativeJourney):
    """The old flow: the shop offers nothing; the bank texts a link to its own site, where the cardholder may redeem.

    The shopper's session is switched to the legacy flow, then pays as usual. Then, as the plan says: ignore the
    bank's SMS (skipped), or open its link, give the card's last four digits and mobile, and either leave at the
    code (abandoned) or sign in with the texted code (a wrong one first, perhaps), pick the purchase the SMS was
    about and redeem points against it (redeemed). Every step is the bank site's own form, over HTTP.
    """

    flow = "legacy"

    def __init__(self, browser: ShopBrowser, sandbox: SandboxApi, shopper: Shopper) -> None:
        super().__init__(browser, sandbox, shopper)
        self.bank = self._new_bank_visit()

    def _new_bank_visit(self) -> ShopBrowser:
        # Each SMS link opens a visit of its own (a returning shopper's earlier sign-in has long ended).
        return ShopBrowser(self.sandbox.issuer_url, site="Summit Bank's site")

    def choose_flow(self) -> None:
        """Switch this shopper's session to the legacy flow through the shop's own switch (POST /insights/flow)."""
        self.browser.post_with_page_token("/insights/flow", flow="legacy")

    def run(self, plan: JourneyPlan, district: str) -> JourneyOutcome:
        self.choose_flow()  # before the order: the shop records the flow on the order it creates
        fill_cart(self.browser, plan)
        reference = place_order(self.browser, self.shopper, district)
        summit_card = self.shopper.card_number != OTHER_BANK_CARD
        sms_before = self.sandbox.latest_sms_id(self.shopper.mobile) if summit_card else 0
        location = pay(self.browser, self.shopper, reference)
        if POINTS_PATH.match(location):
            raise SimulationError(f"The shop offered points at checkout on {reference} in the legacy flow.")
        if not summit_card:
            return JourneyOutcome("no_points_card", reference)
        link = self.sandbox.wait_for_site_link(self.shopper.mobile, sms_before)
        if not plan.follows_sms_link:
            return JourneyOutcome("skipped", reference)
        return self.bank_site(plan, reference, link)

    def bank_site(self, plan: JourneyPlan, reference: str, link: str) -> JourneyOutcome:
        """From the SMS link to the statement credit on Summit Bank's own site."""
        self.bank = self._new_bank_visit()
        bank, shopper = self.bank, self.shopper
        parts = urlsplit(link)
        bank.open(f"{parts.path}?{parts.query}" if parts.query else parts.path)  # the sandbox's own address
        if not has_form_with(bank.page, "last4"):
            raise SimulationError(f"The link in the bank's SMS ({link}) did not open its sign-in.")
        sms_before = self.sandbox.latest_sms_id(shopper.mobile)
        bank.submit_form_with("last4", last4=shopper.card_number[-4:], mobile=shopper.mobile)
        if not has_form_with(bank.page, "code"):
            raise SimulationError("The bank's site did not ask for the texted code after the card and mobile.")
        if not plan.finishes_on_bank_site:
            return JourneyOutcome("abandoned", reference)
        code = self.sandbox.wait_for_otp(shopper.mobile, None, sms_before)
        if plan.wrong_code:
            bank.submit_form_with("code", code=f"{(int(code) + 1) % 1_000_000:06d}")
            if not has_form_with(bank.page, "code"):
                raise SimulationError("After a wrong code the bank's code step was gone.")
        bank.submit_form_with("code", code=code)
        if not has_form_with(bank.page, "purchase"):
            raise SimulationError("The texted code did not sign in to the bank's site.")
        return self.redeem_on_bank_site(plan, reference)

    def redeem_on_bank_site(self, plan: JourneyPlan, reference: str) -> JourneyOutcome:
        bank = self.bank
        form = find_form_with(bank.page, "purchase")
        purchase = form.values.get("purchase", "")
        if not purchase or reference not in bank.page:
            raise SimulationError(f"The bank's site did not offer the purchase {reference} from its SMS.")
        points = bank_site_points(bank.page, purchase, plan)
        location = bank.submit_form_with("points", purchase=purchase, points=str(points))
        credited = POINTS_CREDITED.search(bank.page)
        if not REDEEMED_PATH.match(location) or credited is None:
            raise SimulationError(f"Redeeming {points} points on the bank's site against {reference} failed.")
        return JourneyOutcome("redeemed", reference, int(credited.group(1).replace(",", "")))
