"""Request bodies validated by their pydantic models (schemas.py); failures become 400 invalidRequest.

The body is decoded with ``json_body`` (numbers with a fraction as Decimal, never float; NaN and
Infinity refused; no string or key with a control character), then validated strictly by the model. Each
pydantic error is said in one sentence that names the field by its wire path (``redemptionOrder.pointsToRedeem``).
``refuse_control_characters`` runs before every request of the app: a NUL or other control character in the
path, the query, the partner headers, HTTP Basic credentials or a form never reaches a handler or a query.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, TypeVar

from flask import Flask, Request, render_template, request
from pydantic import BaseModel, TypeAdapter, ValidationError
from werkzeug.exceptions import BadRequest, HTTPException

from ..schemas import has_control_characters
from .errors import RequestInvalid, is_api_request

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
    where = _control_character_in(body, "")
    if where is not None:
        raise RequestInvalid(f"{where} must not contain control characters (NUL, tab, newline...).")
    return body


def _control_character_in(value: Any, path: str) -> str | None:
    """The wire path of the first string or key holding a control character, or None."""
    if isinstance(value, str):
        return (path or "The body") if has_control_characters(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if has_control_characters(key):
                return f"A field name in {path or 'the body'}"
            found = _control_character_in(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _control_character_in(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def ascii_whole_number(text: str) -> int:
    """A query parameter's whole number in ASCII digits (``int()`` would take '٣' or '３'); for ``args.get(type=)``."""
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise ValueError(f"not a whole number in ASCII digits: {text!r}")
    return int(text)


# Headers whose values the API reads, stores or looks up.
_CHECKED_HEADERS = ("client_id", "uuid", "Idempotency-Key", "X-Sandbox-Key")


class ControlCharacterRefused(BadRequest):
    """A console or other HTML page was asked for with a control character in its address or form."""


def install_control_character_check(app: Flask) -> None:
    """Refuse control characters before every request of the app; HTML pages say why on their 400 page."""
    app.before_request(refuse_control_characters)
    app.register_error_handler(ControlCharacterRefused, _control_character_page)


def _control_character_page(error: ControlCharacterRefused):
    page = render_template(
        "issuer/error.html", status=400, title="This request could not be handled", message=error.description
    )
    return page, 400


def refuse_control_characters() -> None:
    """before_request: refuse a control character anywhere a handler would read it, with a clear 400."""
    where = _control_character_in_request(request._get_current_object())  # the proxy looked up once
    if where is None:
        return
    message = f"{where} must not contain control characters such as NUL (%00), tab or newline."
    if is_api_request():
        raise RequestInvalid(message)
    raise ControlCharacterRefused(description=message)


# Bytes that may decode to a control character (CONTROL_CHARACTERS): one raw, a percent escape of one, or a
# byte of the UTF-8 form of a C1 control (0xC2 0x80-0x9F), raw or escaped. A query string or form body with
# none of them holds no control character once parsed, so it need not be parsed to be checked; one with any
# (non-ASCII text has such bytes too) is parsed and checked field by field, for the message that names it.
_MAYBE_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f-\x9f]|%(?:[0189][0-9A-Fa-f]|7[Ff])")


def _control_character_in_request(request: Request) -> str | None:
    if has_control_characters(request.path):
        return "The path"
    if _MAYBE_CONTROL_BYTES.search(request.query_string) is not None:
        for key, value in request.args.items(multi=True):
            if has_control_characters(key) or has_control_characters(value):
                return "A query parameter"
    for name in _CHECKED_HEADERS:
        if has_control_characters(request.headers.get(name, "")):
            return f"The {name} header"
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        if has_control_characters(auth.username or "") or has_control_characters(auth.password or ""):
            return "The HTTP Basic credentials"
    return _control_character_in_form(request)


def _control_character_in_form(request: Request) -> str | None:
    if request.mimetype != "application/x-www-form-urlencoded":
        return None
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return None  # the handler refuses it as too large
    try:
        # Read once and kept: the form is parsed from these bytes when the handler (or the check below) asks.
        if _MAYBE_CONTROL_BYTES.search(request.get_data(cache=True)) is None:
            return None
        fields = list(request.form.items(multi=True))
    except HTTPException:
        return None  # a body the handler will refuse in its own words
    for key, value in fields:
        if has_control_characters(key) or has_control_characters(value):
            return f"The form field {key!r}" if not has_control_characters(key) else "A form field name"
    return None


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
