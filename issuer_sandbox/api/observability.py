"""uuid echo, the request log and fault injection for the JSON API blueprints.

The hooks are installed on the app once (by the first blueprint passed to ``instrument``), so calls that
match no route, such as a 405 under /v1/, are logged too. Only the partner API, the token endpoint and the
card gateway are logged and may be faulted; the sandbox controls and /openapi.json are not.
"""

from __future__ import annotations

import errno
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, Flask, Request, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .. import clock, faults, request_log
from ..database import begin_request_read, end_request_read, reading, write_intent
from ..extensions import db
from ..otp import OTP_IN_SMS
from . import call_context
from .errors import API_PREFIXES, INJECTED_FAULT, error_response
from .validation import install_control_character_check

LOGGED_PREFIXES = ("/v1/", "/gcb/", "/gateway/")
MAX_LOGGED_BODY = 4000
# The status a money call answers once its transaction commits: what its log row says from that commit on,
# before the buffered log adds the latency and the response body (see request_log.py). A call through the
# rules' commit helper that is missing here is still logged at its commit, with status 0 (not known yet).
MONEY_CALL_STATUS = {
    "redemptions.redeem": 200,
    "redemptions.reverse": 200,
    "gateway.create_payment": 201,
    "gateway.create_refund": 201,
}

_SECRET_KEYS = {
    "cvc",
    "cvv",
    "linkageconfirmationcode",
    "otp",
    "access_token",
    "refresh_token",
    "client_secret",
}
_CARD_NUMBER_KEYS = {"number", "cardnumber", "pan"}
# A run of 13-19 digits (spaces or dashes allowed between them) is treated as a card number.
# 13 to 19 digits, spaced or dashed, as a token of their own: not a run of digits inside a longer word, such as
# the hex digits of an order id ("RDM-1D0123456789012A3B...": about one id in 50 has 13 digits in a row), which a
# card number never is.
_CARD_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:[0-9][ -]?){12,18}[0-9](?![0-9A-Za-z])")


def instrument(bp: Blueprint) -> None:
    """Attach the uuid echo, request log and fault hooks (once per app, whichever blueprint comes first)."""
    # Blueprints are module-level and outlive an app: each create_app calls this again for the same bp.
    if getattr(bp, "_issuer_instrumented", False):
        return
    bp._issuer_instrumented = True  # type: ignore[attr-defined]
    bp.record_once(lambda state: _install(state.app))


def _install(app: Flask) -> None:
    if app.extensions.get("issuer_observability"):
        return
    app.extensions["issuer_observability"] = True
    # First of all: a NUL in the path or a header must not reach the fault look-up or any handler.
    install_control_character_check(app)
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_end_money_call)


def _before_request() -> Response | None:
    # The objects behind Flask's proxies, fetched once: every hook runs on every call (bench_profile.py).
    globals_ = g._get_current_object()
    current_request = request._get_current_object()
    globals_.obs_started = time.perf_counter()
    globals_.obs_fault = None
    endpoint = current_request.endpoint
    if not current_request.path.startswith(LOGGED_PREFIXES) or endpoint is None:
        return None
    # Should this call commit a movement of money, its log row is written with it (replay_or_write).
    globals_.obs_money_call = request_log.begin_money_call(_fields_at_commit)
    if endpoint in MONEY_CALL_STATUS:
        # Its row is built while the money transaction holds SQLite's write lock: the masked request body
        # (a JSON parse and dump, a third of that row's cost) is read now, before any lock is taken.
        _request_fields(globals_)
    # One read: the clock, the fault rules and the token's partner. A handler that only reads goes on in
    # the same transaction; one that writes starts its own, which takes SQLite's write lock at BEGIN (so
    # its context is read on a connection of its own, outside the Session, as the token call's is).
    own_transaction = write_intent() or endpoint in call_context.HANDLER_READS_NOTHING
    try:
        with reading():
            if not own_transaction and endpoint in call_context.CORE_READ_ENDPOINTS:
                begin_request_read()  # ended by _after_request, or at the latest by the teardown
            context = call_context.load(endpoint, own_transaction)
            fault = faults.take_fault(endpoint) if context.fault_rule_id is not None else None
    except SQLAlchemyError:
        end_request_read()
        db.session.rollback()
        current_app.logger.exception("Could not read the call's context; the call runs without faults.")
        return None
    finally:
        if write_intent():
            db.session.rollback()
    globals_.obs_fault = fault
    if fault is not None and (fault.error_status or fault.error_code):
        return error_response(
            fault.error_status or INJECTED_FAULT[0],
            fault.error_code or INJECTED_FAULT[1],
            "A fault injected in the Summit Bank sandbox answered this call; the request was not processed.",
        )
    return None


def _after_request(response: Response) -> Response:
    current_request = request._get_current_object()
    request_uuid = current_request.headers.get("uuid")
    if request_uuid and current_request.path.startswith(API_PREFIXES):
        response.headers["uuid"] = request_uuid[:64]
    if not current_request.path.startswith(LOGGED_PREFIXES):
        return response

    # Gather what the log needs while the handler's objects are still usable...
    entry = _log_fields(response)
    # ...then end the handler's transaction, so nothing holds a lock while we sleep or log.
    end_request_read()
    db.session.rollback()
    globals_ = g._get_current_object()
    fault: faults.Fault | None = globals_.get("obs_fault")
    if fault is not None and fault.latency_ms:
        # After the handler committed and before the response leaves: a client that gives up finds the
        # outcome through the status look-up.
        time.sleep(fault.latency_ms / 1000)
    entry["fault"] = fault.label if fault else ""
    entry["latency_ms"] = _elapsed_ms(globals_)
    try:
        entry["at"] = clock.now()
    except SQLAlchemyError:  # the clock's setting could not be read: log the call at real time
        db.session.rollback()
        entry["at"] = clock.real_utcnow()
    finally:
        db.session.rollback()
    money_call = request_log.money_call()
    if money_call is not None and money_call.row_id is not None:
        entry["row_id"] = money_call.row_id  # its row was committed with its money: the buffer completes it
    # Written in a batch by the log's writer thread, outside this request and its transactions.
    request_log.writer(current_app._get_current_object()).add(entry)
    if fault is not None and fault.drop_response_after_commit:
        return _dropped(response)
    return response


def _end_money_call(_error: BaseException | None) -> None:
    end_request_read()  # a call that ended in an unhandled error skipped _after_request
    token = g.pop("obs_money_call", None)
    if token is not None:
        request_log.end_money_call(token)


def _elapsed_ms(globals_: Any = None) -> int:
    started = (globals_ if globals_ is not None else g).get("obs_started")
    return int((time.perf_counter() - started) * 1000) if started is not None else 0


def _fields_at_commit() -> dict[str, Any]:
    """A money call's log row as its transaction commits: all but the answer, status the one it will answer."""
    globals_ = g._get_current_object()
    fault: faults.Fault | None = globals_.get("obs_fault")
    return {
        **_request_fields(globals_),
        "at": clock.now(),  # the request's clock offset was read with its context: no statement
        "status": MONEY_CALL_STATUS.get(request.endpoint or "", 0),
        "latency_ms": _elapsed_ms(globals_),
        "replayed": False,  # a replay commits nothing, so it is never logged here
        "fault": fault.label if fault else "",
        "response_body": "",
    }


def _log_fields(response: Response) -> dict[str, Any]:
    """The request log row of this call (column name to value), bodies masked."""
    return {
        **_request_fields(g._get_current_object()),
        "status": response.status_code,
        "replayed": response.headers.get("Idempotent-Replayed", "").lower() == "true",
        "response_body": "" if response.is_streamed else mask_body(response.get_data()),
        "answer_logged": True,
    }


def _request_fields(globals_: Any) -> dict[str, Any]:
    """What the log keeps of the request itself (column name to value), its body masked.

    Read once per call (a money call's before its handler runs): a money call's row at its commit and the
    buffered row share it. Only the client is looked up each time: the partner behind the token is known
    once the handler authenticated the call.
    """
    current_request = request._get_current_object()
    fields = globals_.get("obs_request_fields")
    if fields is None:
        fields = globals_.obs_request_fields = _read_request_fields(current_request)
    return {"client_id": _client_id(current_request, globals_)[:64], **fields}


def _read_request_fields(request: Request) -> dict[str, Any]:
    raw_request = _raw_request_body(request)
    parsed_request = _parse_json(raw_request)
    idempotency_key = request.headers.get("Idempotency-Key", "")
    if not idempotency_key and isinstance(parsed_request, dict):
        for name in ("transactionReferenceNumber", "reversalReferenceNumber"):
            value = parsed_request.get(name)
            if isinstance(value, str) and value:
                idempotency_key = value
                break
    return {
        "method": request.method[:8],
        "path": request.path[:300],
        "endpoint": (request.endpoint or "")[:80],
        "request_uuid": request.headers.get("uuid", "")[:64],
        "idempotency_key": mask_text(idempotency_key)[:80],
        "request_body": _request_body(request, raw_request),
    }


def _raw_request_body(request: Request) -> bytes:
    """The request body, or nothing when it was refused as too large (reading it would raise 413 again)."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        return b""
    try:
        return request.get_data(cache=True)
    except HTTPException:  # a body over the limit without a Content-Length, or a client that went away
        return b""


def _request_body(request: Request, raw: bytes) -> str:
    if request.mimetype == "application/x-www-form-urlencoded":
        if raw:
            pairs = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        else:
            # A form the handler parsed is not kept as raw bytes, so rebuild it from the parsed fields.
            try:
                pairs = list(request.form.items(multi=True))
            except HTTPException:
                pairs = []
        return mask_text(urlencode([(key, _mask_field(key, value)) for key, value in pairs]))[:MAX_LOGGED_BODY]
    return mask_body(raw)


def _client_id(request: Request, globals_: Any) -> str:
    client = globals_.get("partner_client")
    if client is not None:
        return client.client_id
    header = request.headers.get("client_id")
    if header:
        return header
    auth = request.authorization
    return (auth.username or "") if auth is not None and auth.type == "basic" else ""


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def mask_body(raw: bytes) -> str:
    """A body as the log keeps it: JSON with secrets masked, anything else as masked text."""
    if not raw:
        return ""
    parsed = _parse_json(raw)
    if parsed is not None:
        text = json.dumps(mask_value(parsed), ensure_ascii=False, separators=(",", ":"))
    else:
        text = mask_text(raw.decode("utf-8", errors="replace"))
    return text[:MAX_LOGGED_BODY]


def mask_value(value: Any, key: str = "") -> Any:
    """Mask secrets in a decoded JSON value, recursively."""
    if isinstance(value, dict):
        return {name: mask_value(item, str(name)) for name, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item, key) for item in value]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return _mask_field(key, value)
    return value


def _mask_field(key: str, value: Any) -> Any:
    name = key.lower()
    if name in _SECRET_KEYS or "password" in name or "secret" in name:
        return "***"
    if name in _CARD_NUMBER_KEYS:
        digits = re.sub(r"[^0-9]", "", str(value))
        return "*" * max(0, len(digits) - 4) + digits[-4:]
    return mask_text(value) if isinstance(value, str) else value


def mask_text(text: str) -> str:
    """Card numbers down to their last four, OTP digits of an SMS text hidden."""
    text = _CARD_NUMBER.sub(lambda match: "*" * 12 + re.sub(r"[^0-9]", "", match.group())[-4:], text)
    return OTP_IN_SMS.sub("******", text)


def _dropped(response: Response) -> Response:
    """A response whose body fails before a byte is written: the WSGI server closes the connection.

    gunicorn treats an OSError from the body iterator (EPIPE) as a broken client connection: it closes the
    socket without sending a status line, so the client sees the connection drop although the call committed.
    """

    def body() -> Iterator[bytes]:
        raise BrokenPipeError(errno.EPIPE, "Summit Bank sandbox fault: response dropped after commit")
        yield b""  # pragma: no cover - makes this a generator, so the error is raised while the server iterates

    dropped = Response(body(), status=response.status_code, mimetype=response.mimetype)
    for name, value in response.headers.items():
        if name.lower() not in ("content-length", "content-type"):
            dropped.headers.add(name, value)
    return dropped
