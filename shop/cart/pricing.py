"""Pure money rules of the cart: subtotal, delivery fee, total and how cents are shown. No Flask here."""

from __future__ import annotations

from collections.abc import Iterable

# HK$40 delivery under HK$500; the app passes its configured values, these are the documented defaults.
DEFAULT_DELIVERY_FEE_CENTS = 4000
DEFAULT_FREE_DELIVERY_THRESHOLD_CENTS = 50000


class PricingError(ValueError):
    """A price or quantity that cannot be priced (negative, or not an integer)."""


def line_total_cents(unit_price_cents: int, quantity: int) -> int:
    """Price of one cart line: unit price times quantity, in cents."""
    if not isinstance(unit_price_cents, int) or not isinstance(quantity, int):
        raise PricingError("Prices and quantities must be whole numbers of cents and items.")
    if unit_price_cents < 0 or quantity < 0:
        raise PricingError("Prices and quantities cannot be negative.")
    return unit_price_cents * quantity


def subtotal_cents(lines: Iterable[tuple[int, int]]) -> int:
    """Sum of (unit_price_cents, quantity) lines."""
    return sum(line_total_cents(price, quantity) for price, quantity in lines)


def delivery_fee_cents(
    subtotal: int,
    *,
    fee_cents: int = DEFAULT_DELIVERY_FEE_CENTS,
    free_threshold_cents: int = DEFAULT_FREE_DELIVERY_THRESHOLD_CENTS,
) -> int:
    """Flat fee below the free-delivery threshold, nothing from it up; an empty cart ships nothing."""
    if subtotal < 0:
        raise PricingError("A subtotal cannot be negative.")
    if subtotal == 0 or subtotal >= free_threshold_cents:
        return 0
    return fee_cents


def amount_to_free_delivery_cents(
    subtotal: int, *, free_threshold_cents: int = DEFAULT_FREE_DELIVERY_THRESHOLD_CENTS
) -> int:
    """How much more the shopper must spend for free delivery (0 when already free)."""
    return max(free_threshold_cents - subtotal, 0)


def format_money(cents: int, symbol: str = "HK$") -> str:
    """12345 -> 'HK$123.45', with thousands separators and a leading minus for credits."""
    if not isinstance(cents, int):
        raise PricingError("Money is kept in whole cents.")
    sign = "-" if cents < 0 else ""
    dollars, remainder = divmod(abs(cents), 100)
    return f"{sign}{symbol}{dollars:,}.{remainder:02d}"


CURRENCY_SYMBOLS = {"HKD": "HK$", "USD": "US$", "SGD": "S$", "GBP": "£", "EUR": "€"}


def currency_symbol(code: str) -> str:
    """The symbol shown before amounts of a currency (the code itself when unknown)."""
    return CURRENCY_SYMBOLS.get(code, f"{code} ")
