"""Strict parsing of JSON request bodies: amounts as Decimal (never float), points as whole numbers.

Every failure raises RequestInvalid (400 invalidRequest, <what is wrong>) before anything is written.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from flask import request

from ..money import amount_to_cents, cents_to_amount, parse_amount  # noqa: F401 (the sandbox API uses them)
from .errors import RequestInvalid

REFERENCE_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MAX_POINTS = 10**12


def invalid(details: str) -> RequestInvalid:
    return RequestInvalid(details)


def _reject_constant(name: str) -> Any:
    raise invalid(f"{name} is not a number JSON allows.")


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, numbers with a fraction or exponent parsed as Decimal."""
    if not request.mimetype == "application/json":
        raise invalid("Send the body as JSON with 'Content-Type: application/json'.")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except RequestInvalid:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise invalid("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.")
    return body


def require_object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise invalid(f"{name} is required and must be an object.")
    return value


def require_string(
    body: dict[str, Any], name: str, max_length: int = 64, pattern: re.Pattern[str] | None = None
) -> str:
    """A required, non-empty string field of at most max_length characters (matching pattern, if given)."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{name} is required and must be a non-empty string.")
    if len(value) > max_length:
        raise invalid(f"{name} must be at most {max_length} characters.")
    if pattern is not None and not pattern.fullmatch(value):
        raise invalid(f"{name} has characters that are not allowed.")
    return value


def optional_string(body: dict[str, Any], name: str, max_length: int = 200) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string.")
    if len(value) > max_length:
        raise invalid(f"{name} must be at most {max_length} characters.")
    return value


def require_reference(body: dict[str, Any], name: str) -> str:
    """An idempotency reference: 1-64 ASCII letters, digits, dot, dash or underscore."""
    return require_string(body, name, 64, REFERENCE_PATTERN)


def require_points(body: dict[str, Any], name: str) -> int:
    """A positive whole number of points (JSON integer; not a string, fraction, boolean or float)."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise invalid(f"{name} is required and must be a whole number of points.")
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise invalid(f"{name} must be a whole number of points.")
        value = int(value)
    if value <= 0:
        raise invalid(f"{name} must be positive.")
    if value > MAX_POINTS:
        raise invalid(f"{name} is too large.")
    return value


def require_currency(body: dict[str, Any], name: str, allowed: tuple[str, ...] = ("HKD",)) -> str:
    value = body.get(name)
    if not isinstance(value, str) or value not in allowed:
        raise invalid(f"{name} must be one of: {', '.join(allowed)}.")
    return value


def reject_unknown_fields(body: dict[str, Any], allowed: set[str]) -> None:
    """Refuse fields we do not know, so a typo is an error rather than silently ignored."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid(f"Unknown field(s): {', '.join(unknown)}.")
