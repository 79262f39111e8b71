"""JSON request bodies decoded strictly (numbers with a fraction as Decimal, never float), and the small field
checks the sandbox controls API still uses. Partner and gateway bodies are validated by schemas.py's models.

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


def reject_unknown_fields(body: dict[str, Any], allowed: set[str]) -> None:
    """Refuse fields we do not know, so a typo is an error rather than silently ignored."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid(f"Unknown field(s): {', '.join(unknown)}.")
