"""Money in one place: integer cents inside the sandbox, decimal strings ("520.00") on the partner API's wire.

Never float. Rules, the API and its schemas all use these helpers; none of them imports from ``api/``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import RuleError

MAX_AMOUNT = Decimal("100000000.00")  # HK$100 million: far above any card limit
MAX_AMOUNT_CENTS = 10_000_000_000
# A wire amount: up to 12 whole digits and at most two decimals.
AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
CENT = Decimal("0.01")


class InvalidAmount(RuleError, ValueError):
    """Not a positive money amount with at most two decimals."""

    status = 400
    code = "invalidRequest"


def amount_to_cents(amount: Decimal) -> int:
    """Decimal("520.00") -> 52000 (the amount has at most two decimals)."""
    return int(amount * 100)


def cents_to_amount(cents: int) -> str:
    """Cents as the wire's decimal string: 52000 -> "520.00"."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def parse_amount(value: Any, name: str) -> Decimal:
    """A positive money amount with at most two decimals, from a decimal string or a JSON number (as Decimal)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidAmount(f'{name} is required: a decimal string such as "520.00".')
    if isinstance(value, str):
        value = value.strip()
        if not _AMOUNT.fullmatch(value):
            raise InvalidAmount(f'{name} must be a decimal string with at most two decimals, such as "520.00".')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidAmount(f"{name} is not a number.") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{name} must be a finite number.")
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"{name} is too large.")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(CENT):
        raise InvalidAmount(f"{name} must have at most two decimals.")
    if amount <= 0:
        raise InvalidAmount(f"{name} must be positive.")
    return amount.quantize(CENT)
