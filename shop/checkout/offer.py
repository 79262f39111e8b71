"""The points maths of an order: what the shopper may redeem, what it is worth, whether a choice is allowed.

Plain functions over the bank's balance; money in cents, rates as ``Decimal``, never float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from ..issuer_client import Balance


class InvalidPoints(Exception):
    """The points chosen break the programme's rules for this order.

    ``reason`` is one of not_eligible | below_minimum | above_maximum | increment; ``limit`` the number broken.
    """

    def __init__(self, reason: str, limit: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit


@dataclass(frozen=True)
class PointsOffer:
    """What the shopper may redeem on this order, from the bank's live balance."""

    available_points: int
    rate: Decimal  # currency per point
    increment: int
    minimum: int
    maximum: int  # the most this order allows (0 when the offer is not possible)
    order_total_cents: int
    currency_code: str = "HKD"
    eligible: bool = True

    @property
    def balance_value_cents(self) -> int:
        """What the whole balance is worth, in cents."""
        return credit_cents(self.available_points, self.rate)

    def credit_for(self, points: int) -> int:
        return credit_cents(points, self.rate)

    def net_cost_for(self, points: int) -> int:
        return self.order_total_cents - self.credit_for(points)


def max_points_for_order(balance: Balance, order_total_cents: int) -> int:
    """min(maximumPointsToRedeem, balance, floor(total / rate / increment) * increment), in whole increments."""
    increment = max(balance.increment, 1)
    if balance.conversion_rate <= 0:
        return 0
    total = Decimal(order_total_cents) / 100
    by_amount = int((total / balance.conversion_rate / increment).to_integral_value(rounding=ROUND_DOWN)) * increment
    cap = min(balance.maximum, balance.available_points, by_amount)
    return max(cap - cap % increment, 0)


def credit_cents(points: int, rate: Decimal) -> int:
    """The statement credit that ``points`` earn: points x rate, in cents (exact for whole increments)."""
    return int((Decimal(points) * rate * 100).to_integral_value(rounding=ROUND_HALF_UP))


def make_offer(balance: Balance, order_total_cents: int) -> PointsOffer:
    """The offer for this order from the balance response."""
    maximum = max_points_for_order(balance, order_total_cents)
    return PointsOffer(
        available_points=balance.available_points,
        rate=balance.conversion_rate,
        increment=max(balance.increment, 1),
        minimum=balance.minimum,
        maximum=maximum,
        order_total_cents=order_total_cents,
        currency_code=balance.currency_code,
        eligible=balance.is_redemption_eligible and maximum >= max(balance.minimum, 1),
    )


def validate_points(points: int, offer: PointsOffer) -> int:
    """Check the shopper's choice against the offer (the server never trusts the browser's maths)."""
    if not offer.eligible:
        raise InvalidPoints("not_eligible", offer.minimum, "This order cannot use points.")
    if points < offer.minimum:
        raise InvalidPoints("below_minimum", offer.minimum, f"Use at least {offer.minimum:,} points.")
    if points > offer.maximum:
        raise InvalidPoints(
            "above_maximum", offer.maximum, f"You can use at most {offer.maximum:,} points on this order."
        )
    if points % offer.increment:
        raise InvalidPoints("increment", offer.increment, f"Points are used in steps of {offer.increment:,}.")
    return points


def floor_to_increment(points: int, increment: int) -> int:
    increment = max(increment, 1)
    return points - points % increment
