"""Request bodies validated by their pydantic models (schemas.py); failures become 400 invalidRequest.

The body is decoded with ``json_body`` (numbers with a fraction as Decimal, never float; NaN and
Infinity refused), then validated strictly by the model. Each pydantic error is said in one sentence that
names the field by its wire path (``redemptionOrder.pointsToRedeem``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import RequestInvalid

M = TypeVar("M", bound=BaseModel)


def _reject_constant(name: str) -> Any:
    raise RequestInvalid(f"{name} is not a number JSON allows.")


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, numbers with a fraction or exponent parsed as Decimal."""
    if not request.mimetype == "application/json":
        raise RequestInvalid("Send the body as JSON with 'Content-Type: application/json'.")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except RequestInvalid:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RequestInvalid("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise RequestInvalid("The body must be a JSON object.")
    return body


# Where the generic sentence would not say what to fix.
_PATTERN_MESSAGES = {
    "card.number": "card.number must contain only digits and spaces.",
    "lastFourDigitsCardNumber": "lastFourDigitsCardNumber must be the last four digits of the card number.",
    "linkageConfirmationCode": "linkageConfirmationCode must be the 6-digit one-time password.",
}


def parse_body(model: type[M]) -> M:
    """The request's JSON body as ``model``, or RequestInvalid naming every field that is wrong."""
    return validate(model, json_body())


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        sentences = [_sentence(item) for item in problems if item["type"] != "extra_forbidden"]
        unknown = [".".join(map(str, item["loc"])) for item in problems if item["type"] == "extra_forbidden"]
        if unknown:
            sentences.append(f"Unknown field(s): {', '.join(unknown)}.")
        raise RequestInvalid(" ".join(dict.fromkeys(sentences))) from None


_adapters: dict[Any, TypeAdapter] = {}


def validate_query(annotation: Any, name: str) -> Any:
    """A required query parameter, validated by a schemas type (e.g. ``schemas.Reference``)."""
    adapter = _adapters.get(annotation)
    if adapter is None:
        adapter = _adapters[annotation] = TypeAdapter(annotation)
    try:
        return adapter.validate_python(request.args.get(name, ""))
    except ValidationError:
        raise RequestInvalid(f"The {name} query parameter is required (1-64 letters, digits, '.', '_', '-').") from None


# A value of the wrong JSON type (bodies are strict: "100" is not a number, 1 is not true).
_TYPE_SENTENCES = {
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
}


_BOUND_KINDS = ("greater_than", "greater_than_equal", "less_than_equal", "less_than")


def _value_sentence(path: str, kind: str, context: dict[str, Any], message: str) -> str:
    """A value of the wrong type, outside its bounds or not one of the allowed literals."""
    if kind in _TYPE_SENTENCES:
        return f"{path} {_TYPE_SENTENCES[kind]}."
    if kind == "literal_error":
        return f"{path} must be {context.get('expected')}."
    if kind in ("greater_than", "greater_than_equal") and context.get("gt", context.get("ge")) in (0, 1):
        return f"{path} must be positive." if "gt" in context else f"{path} must be at least {context['ge']}."
    if kind == "greater_than_equal":
        return f"{path} is too small: at least {context['ge']}."
    if "le" in context and context["le"] > 100:
        return f"{path} is too large."
    return f"{path}: {message}."


def _sentence(item: dict[str, Any]) -> str:
    """One pydantic error as a sentence about the wire field."""
    path = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
    kind = item["type"]
    context = item.get("ctx") or {}
    if not path:
        return "The body must be a JSON object." if kind == "model_type" else f"The body: {item['msg']}."
    if kind == "missing":
        return f"{path} is required."
    if kind == "model_type":
        return f"{path} is required and must be an object."
    if kind in _TYPE_SENTENCES or kind in _BOUND_KINDS or kind == "literal_error":
        return _value_sentence(path, kind, context, item["msg"])
    if kind == "string_pattern_mismatch":
        return _PATTERN_MESSAGES.get(path, f"{path} has characters that are not allowed.")
    if kind == "string_too_long":
        return f"{path} must be at most {context['max_length']} characters."
    if kind == "string_too_short":
        return f"{path} is required and must be a non-empty string."
    if kind == "value_error":
        text = str(context["error"]).rstrip(".")
        field = path.rsplit(".", 1)[-1]
        return f"{path}{text[len(field) :]}." if text.startswith(field) else f"{path} {text}."
    return f"{path}: {item['msg']}."
