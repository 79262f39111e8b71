"""What each simulated shopper does, drawn up front from ``random.Random(seed)``: the same seed, the same plans.

Every draw is made for every shopper in the same order, whether or not the journey reaches that choice, so the
plan of shopper 3 does not change when shopper 2 happens to skip points. Plans depend only on the seed, the
options and the list of products given (the shop's in-stock catalogue, by id), never on what the apps answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SECONDS_PER_DAY = 24 * 3600
# Shoppers shop between 08:00 and 22:00 (UTC, as the shop stores time); a returning shopper's same-day visit
# comes RETURN_SAME_DAY_GAP after the first, so it still falls before midnight.
FIRST_SECOND_OF_DAY = 8 * 3600
LAST_START_SECOND_OF_DAY = 20 * 3600
RETURN_SAME_DAY_GAP = timedelta(hours=2)
# A shopper who does not use the maximum uses this percentage of it (uniform), rounded down to the increment.
PARTIAL_SHARE_PERCENT_RANGE = (20, 90)
OPENING_POINTS_RANGE = (10_000, 150_000)  # drawn in steps of 1,000 points
MAX_PRODUCTS_PER_CART = 3
MAX_QUANTITY_PER_PRODUCT = 2


@dataclass(frozen=True)
class Odds:
    """The probabilities of each choice (each from 0 to 1); the defaults are the command's."""

    summit_card: float = 0.85  # pays with a Summit points card (else another bank's card: no points offer)
    accept_offer: float = 0.65  # goes for the points offer (else skips it)
    abandon_at_otp: float = 0.15  # asked for the code, then walks away without typing it
    wrong_code: float = 0.2  # types a wrong code once before the right one
    use_max: float = 0.5  # uses the most points the order allows (else a share of it)
    returns: float = 0.3  # comes back for a second purchase (a returning shopper: the card is linked)
    # The legacy flow: the bank's SMS after the payment, then its own site (the old flow lost people at each step).
    follow_sms_link: float = 0.4  # opens the link in the bank's SMS (else ignores it: no points)
    finish_on_bank_site: float = 0.6  # of those, signs in with the texted code and redeems (else leaves at the code)

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability from 0 to 1, not {value!r}")


@dataclass(frozen=True)
class CartItem:
    slug: str
    quantity: int


@dataclass(frozen=True)
class JourneyPlan:
    """One checkout: what goes in the cart, what the shopper decides, and the past moment it is moved to."""

    cart: tuple[CartItem, ...]
    accept_offer: bool
    abandon_at_otp: bool
    wrong_code: bool
    use_max: bool
    points_share_percent: int  # of the maximum, when not use_max
    days_ago: int  # 1 = yesterday
    start_second: int  # second of that day (UTC) the journey starts at
    # The legacy flow's choices, drawn from a generator of their own (see draw_plans): native plans stay as they were.
    follows_sms_link: bool = False
    finishes_on_bank_site: bool = False

    def starts_at(self, today_midnight: datetime) -> datetime:
        """The moment this journey is moved to, given midnight (UTC, naive) of the day the run happens."""
        return today_midnight - timedelta(days=self.days_ago) + timedelta(seconds=self.start_second)


@dataclass(frozen=True)
class ShopperPlan:
    """One shopper: their card (a Summit points card of their own, or another bank's) and their journeys."""

    number: int  # 1-based, for names and messages
    summit_card: bool
    opening_points: int
    journeys: tuple[JourneyPlan, ...] = field(default=())

    @property
    def returns(self) -> bool:
        return len(self.journeys) > 1


def draw_plans(seed: int, shoppers: int, odds: Odds, days: int, products: list[str]) -> list[ShopperPlan]:
    """The plans of ``shoppers`` shoppers, spread over the past ``days`` days (deterministic in ``seed``)."""
    if shoppers < 1:
        raise ValueError("At least one shopper.")
    if days < 1:
        raise ValueError("At least one day.")
    if not products:
        raise ValueError("No product is in stock to put in a cart.")
    rng = random.Random(seed)
    # The legacy choices come from a second generator of the same seed, so adding them left every earlier draw
    # (and every replayed native demo) exactly as it was.
    legacy_rng = random.Random(f"legacy-{seed}")
    return [_draw_shopper(rng, legacy_rng, number, odds, days, products) for number in range(1, shoppers + 1)]


def _chance(rng: random.Random, probability: float) -> bool:
    # Always draws, so every shopper consumes the same numbers whatever the probability.
    return rng.random() < probability


def _draw_shopper(
    rng: random.Random, legacy_rng: random.Random, number: int, odds: Odds, days: int, products: list[str]
) -> ShopperPlan:
    summit_card = _chance(rng, odds.summit_card)
    low, high = OPENING_POINTS_RANGE
    opening_points = rng.randrange(low, high + 1, 1_000)
    returns = _chance(rng, odds.returns)
    first_day = rng.randint(1, days)
    first_second = rng.randrange(FIRST_SECOND_OF_DAY, LAST_START_SECOND_OF_DAY)
    first = _draw_journey(rng, legacy_rng, odds, products, first_day, first_second)
    # The second visit's day and time are drawn whether or not the shopper returns (see the module's note).
    gap_days = rng.randint(0, first_day - 1)
    later_second = rng.randrange(FIRST_SECOND_OF_DAY, LAST_START_SECOND_OF_DAY)
    if gap_days == 0:
        later_second = first_second + int(RETURN_SAME_DAY_GAP.total_seconds())
    second = _draw_journey(rng, legacy_rng, odds, products, first_day - gap_days, later_second)
    journeys = (first, second) if returns else (first,)
    return ShopperPlan(number=number, summit_card=summit_card, opening_points=opening_points, journeys=journeys)


def _draw_journey(
    rng: random.Random, legacy_rng: random.Random, odds: Odds, products: list[str], days_ago: int, start_second: int
) -> JourneyPlan:
    count = rng.randint(1, min(MAX_PRODUCTS_PER_CART, len(products)))
    cart = tuple(CartItem(slug, rng.randint(1, MAX_QUANTITY_PER_PRODUCT)) for slug in rng.sample(products, count))
    return JourneyPlan(
        cart=cart,
        accept_offer=_chance(rng, odds.accept_offer),
        abandon_at_otp=_chance(rng, odds.abandon_at_otp),
        wrong_code=_chance(rng, odds.wrong_code),
        use_max=_chance(rng, odds.use_max),
        points_share_percent=rng.randint(*PARTIAL_SHARE_PERCENT_RANGE),
        days_ago=days_ago,
        start_second=start_second,
        follows_sms_link=_chance(legacy_rng, odds.follow_sms_link),
        finishes_on_bank_site=_chance(legacy_rng, odds.finish_on_bank_site),
    )


def points_to_use(plan: JourneyPlan, minimum: int, maximum: int, increment: int) -> int:
    """The points this journey uses of an offer: the maximum, or its drawn share in whole increments (>= minimum)."""
    if plan.use_max:
        return maximum
    increment = max(increment, 1)
    share = maximum * plan.points_share_percent // 100
    chosen = share - share % increment
    floor = minimum + (-minimum) % increment  # the smallest whole increment at or above the minimum
    return min(max(chosen, floor), maximum)
