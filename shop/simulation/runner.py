"""A simulation run: check both apps, draw the plans, drive every shopper's journeys, mark them, sum them up.

Runs inside the shop's app context (the command's): it reads the shop's catalogue for the carts and moves each
finished journey into the past in the shop's database (timeshift.py). Everything a shopper does goes over HTTP.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import requests
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ..database import reading
from ..extensions import db
from ..models import Product
from ..orders.rules import utcnow
from .choices import MAX_QUANTITY_PER_PRODUCT, Odds, ShopperPlan, draw_plans
from .journeys import OUTCOMES, JourneyOutcome, LegacyJourney, NativeJourney, district_for, new_shopper, sign_up
from .sandbox import AppUnreachable, SandboxApi, SimulationError
from .shop_browser import ShopBrowser
from .timeshift import find_shopper, shift_and_mark

HEALTH_TIMEOUT_SECONDS = 5
PLENTIFUL_STOCK = 20
JOURNEYS = {"native": NativeJourney, "legacy": LegacyJourney}


class CannotSimulate(Exception):
    """The run cannot start (or go on): an app is unreachable or not set up for it (exit code 3)."""

    exit_code = 3


@dataclass(frozen=True)
class Settings:
    shop_url: str
    issuer_url: str
    sandbox_key: str
    flow: str
    shoppers: int
    seed: int
    days: int
    odds: Odds


@dataclass
class ShopperReport:
    """What happened to one shopper: each journey's outcome (marked simulated) and any error."""

    plan: ShopperPlan
    started: int = 0  # journeys begun (each one marked afterwards, whatever its end)
    outcomes: list[str] = field(default_factory=list)  # one of OUTCOMES per journey that ended well and was marked
    references: list[str] = field(default_factory=list)
    points: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Summary:
    """The run's totals; every counted journey's order is marked simulated in the shop."""

    reports: list[ShopperReport] = field(default_factory=list)
    stopped: str = ""  # why the run stopped before the last shopper (an app stopped answering), if it did

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(outcome for report in self.reports for outcome in report.outcomes)

    @property
    def errors(self) -> list[str]:
        return [error for report in self.reports for error in report.errors]

    @property
    def points(self) -> int:
        return sum(report.points for report in self.reports)

    @property
    def journeys(self) -> int:
        return sum(report.started for report in self.reports)

    @property
    def marked(self) -> int:
        """Orders marked simulated (and moved into the past) by this run."""
        return sum(len(report.references) for report in self.reports)


def check_app(name: str, url: str) -> None:
    """Raise CannotSimulate unless ``url``/healthz answers 200 (the app is up and its database answers)."""
    try:
        response = requests.get(f"{url.rstrip('/')}/healthz", timeout=HEALTH_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise CannotSimulate(f"{name} is not reachable at {url} ({type(error).__name__}). Is it running?") from error
    if response.status_code != 200:
        raise CannotSimulate(f"{name} at {url} is not healthy: GET /healthz answered {response.status_code}.")


def check_legacy_flow(shop_url: str, issuer_url: str) -> None:
    """Raise CannotSimulate unless the shop has its flow switch and the bank its own redemption site."""
    for name, url, what in (
        ("The shop", f"{shop_url.rstrip('/')}/insights/flow", "no flow switch (POST /insights/flow)"),
        ("Summit Bank's sandbox", f"{issuer_url.rstrip('/')}/rewards/", "no redemption site (/rewards/)"),
    ):
        try:
            answer = requests.get(url, timeout=HEALTH_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise CannotSimulate(f"{name} is not reachable at {url} ({type(error).__name__}).") from error
        if answer.status_code == 404:
            raise CannotSimulate(f"{name} has {what}: --flow legacy needs it.")


def in_stock_products(minimum_stock: int = PLENTIFUL_STOCK) -> list[str]:
    """Slugs of the products carts are drawn from, by id (so the same catalogue gives the same plans).

    Products with plenty of stock, so a run rarely sells one out (a shopper passes a sold-out one over); only
    when none has that much, whatever a cart can still hold.
    """
    with reading():
        slugs = list(
            db.session.scalars(sa.select(Product.slug).where(Product.stock >= minimum_stock).order_by(Product.id))
        )
        db.session.rollback()
    if not slugs and minimum_stock > MAX_QUANTITY_PER_PRODUCT:
        return in_stock_products(MAX_QUANTITY_PER_PRODUCT)
    return slugs


def today_midnight() -> datetime:
    return utcnow().replace(hour=0, minute=0, second=0, microsecond=0)


def preflight(settings: Settings, sandbox: SandboxApi) -> None:
    """Both apps answer, the sandbox takes the key, and the flow asked for can be driven."""
    check_app("The shop", settings.shop_url)
    check_app("Summit Bank's sandbox", settings.issuer_url)
    if settings.flow == "legacy":
        check_legacy_flow(settings.shop_url, settings.issuer_url)
    try:
        sandbox.check()
    except AppUnreachable as error:
        raise CannotSimulate(str(error)) from error


def run_simulation(settings: Settings, on_shopper_done: Callable[[ShopperReport], None] = lambda _: None) -> Summary:
    """Drive every shopper; raises CannotSimulate when the run cannot start.

    When an app stops answering half-way, the journey in progress is still marked and the summary so far comes
    back with ``stopped`` saying why.
    """
    sandbox = SandboxApi(settings.issuer_url, settings.sandbox_key)
    preflight(settings, sandbox)
    plans = draw_plans(settings.seed, settings.shoppers, settings.odds, settings.days, in_stock_products())
    run_id = secrets.token_hex(4)
    midnight = today_midnight()
    summary = Summary()
    for plan in plans:
        report = ShopperReport(plan)
        summary.reports.append(report)
        try:
            _run_shopper(settings, sandbox, plan, run_id, midnight, report)
        except (AppUnreachable, CannotSimulate) as error:
            summary.stopped = f"{error} Stopped at shopper {plan.number} of {len(plans)}."
            return summary
        finally:
            on_shopper_done(report)
    return summary


def _run_shopper(
    settings: Settings, sandbox: SandboxApi, plan: ShopperPlan, run_id: str, midnight: datetime, report: ShopperReport
) -> None:
    card = None
    if plan.summit_card:
        try:
            card = sandbox.create_cardholder(shopper_name(plan.number), _new_mobile(), plan.opening_points)
        except AppUnreachable:
            raise
        except SimulationError as error:
            report.errors.append(f"shopper {plan.number}: test cardholder: {error}")
            return
    shopper = new_shopper(plan, run_id, card)
    browser = ShopBrowser(settings.shop_url)
    try:
        sign_up(browser, shopper)
    except AppUnreachable:
        raise
    except SimulationError as error:
        report.errors.append(f"shopper {plan.number}: sign-up: {error}")
        return
    user = find_shopper(shopper.email)
    if user is None:
        raise CannotSimulate(
            f"The shop at {settings.shop_url} signed up {shopper.email}, but this command's database does not have "
            "that account: run the command with the shop's own settings (SHOP_DATABASE_URL)."
        )
    shopper = dataclasses.replace(shopper, customer_reference=user.customer_reference)
    journey = JOURNEYS[settings.flow](browser, sandbox, shopper)
    for number, journey_plan in enumerate(plan.journeys, start=1):
        started_at = utcnow()
        report.started += 1
        outcome = None
        try:
            outcome = journey.run(journey_plan, district_for(plan))
        except AppUnreachable:
            raise  # marked below, then the run stops
        except SimulationError as error:
            report.errors.append(f"shopper {plan.number}, journey {number}: {error}")
        finally:
            _mark(user.id, started_at, journey_plan.starts_at(midnight), outcome, report)


def _mark(
    user_id: int, started_at: datetime, moved_to: datetime, outcome: JourneyOutcome | None, report: ShopperReport
) -> None:
    """Move and mark the journey; only a marked journey is counted (an unmarked one is an error, named)."""
    try:
        marked = shift_and_mark(user_id, started_at, moved_to)
    except SQLAlchemyError as error:
        report.errors.append(f"shopper {report.plan.number}: could not mark the journey simulated ({error})")
        return
    report.references.extend(marked.references)
    if outcome is not None and outcome.outcome in OUTCOMES:
        report.outcomes.append(outcome.outcome)
        report.points += outcome.points


def shopper_name(number: int) -> str:
    """'SIMULATED SHOPPER A', … 'Z', 'AA', …: letters only, as the sandbox takes a cardholder's name."""
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return f"SIMULATED SHOPPER {letters}"


def _new_mobile() -> str:
    # Not from the seed: a mobile of its own per run, so the sandbox's per-phone SMS limit never carries over
    # from an earlier run with the same seed.
    return f"6{secrets.randbelow(10**7):07d}"
