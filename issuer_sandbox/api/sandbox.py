"""Sandbox JSON controls for testers: SMS outbox, clock, reset and the request log (X-Sandbox-Key)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from .. import clock, links, seed
from ..extensions import db
from ..models import RequestLogEntry, SmsMessage
from ..request_log import writer as request_log_writer
from .errors import ApiError
from .parsing import invalid, json_body, reject_unknown_fields

F = TypeVar("F", bound=Callable)

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox/api")


def sandbox_key_required(view: F) -> F:
    """Refuse the call unless the X-Sandbox-Key header equals config SANDBOX_KEY (401 invalidSandboxKey)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        given = request.headers.get("X-Sandbox-Key", "")
        expected = current_app.config["SANDBOX_KEY"] or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "invalidSandboxKey", "Send the sandbox key in the X-Sandbox-Key header.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


MAX_LIMIT = 500
MAX_CLOCK_ADVANCE_SECONDS = 10 * 366 * 24 * 3600  # ten years is plenty for any expiry test
_SMS_OTP = re.compile(r"(?<![0-9])([0-9]{6}) is your one-time password")


def _limit(default: int = 50) -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


@bp.get("/sms")
@sandbox_key_required
def sms_outbox():
    """The SMS outbox, newest first; ?phone= filters by mobile (any format the enrol call accepts)."""
    query = sa.select(SmsMessage).order_by(SmsMessage.id.desc()).limit(_limit())
    phone = request.args.get("phone", "")
    if phone:
        try:
            query = query.where(SmsMessage.phone == links.normalize_phone(phone))
        except links.InvalidPhoneNumber as error:
            raise invalid(str(error)) from None
    messages = db.session.scalars(query).all()
    return jsonify([_sms_json(message) for message in messages])


def _sms_json(message: SmsMessage) -> dict:
    match = _SMS_OTP.search(message.body)
    return {
        "id": message.id,
        "phone": message.phone,
        "body": message.body,
        "sentAt": clock.iso(message.sent_at),
        # A convenience for testers: the digits as they appear in the text.
        "otp": match.group(1) if match else None,
    }


def _clock_json() -> dict:
    return {"now": clock.iso(clock.now()), "offsetSeconds": clock.offset_seconds()}


@bp.get("/clock")
@sandbox_key_required
def get_clock():
    """The sandbox's current time and how far it runs ahead of real time."""
    return jsonify(_clock_json())


@bp.post("/clock/advance")
@sandbox_key_required
def advance_clock():
    """Move the sandbox clock forward by {"seconds": N}."""
    body = json_body()
    reject_unknown_fields(body, {"seconds"})
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise invalid("seconds is required and must be a whole number.")
    if not 0 <= seconds <= MAX_CLOCK_ADVANCE_SECONDS:
        raise invalid(f"seconds must be from 0 to {MAX_CLOCK_ADVANCE_SECONDS}; the clock only moves forward.")
    clock.advance(seconds)
    return jsonify(_clock_json())


@bp.post("/reset")
@sandbox_key_required
def reset():
    """Throw away everything and restore the seed state."""
    seed.reset_database()
    return jsonify({"status": "reset"})


@bp.get("/requests")
@sandbox_key_required
def request_log():
    """The request log, newest first; ?status=&path=&limit= filter it (path matches a part of the path)."""
    request_log_writer(current_app).flush()  # this worker's own calls first (others' follow within a flush)
    query = sa.select(RequestLogEntry).order_by(RequestLogEntry.id.desc()).limit(_limit())
    status = request.args.get("status", "")
    if status:
        if not status.isascii() or not status.isdigit() or len(status) != 3:
            raise invalid("status must be an HTTP status code such as 422.")
        query = query.where(RequestLogEntry.status == int(status))
    path = request.args.get("path", "")
    if path:
        if len(path) > 300:
            raise invalid("path must be at most 300 characters.")
        query = query.where(RequestLogEntry.path.contains(path, autoescape=True))
    entries = db.session.scalars(query).all()
    return jsonify([_log_json(entry) for entry in entries])


def _log_json(entry: RequestLogEntry) -> dict:
    return {
        "id": entry.id,
        "at": clock.iso(entry.at),
        "clientId": entry.client_id,
        "method": entry.method,
        "path": entry.path,
        "endpoint": entry.endpoint,
        "status": entry.status,
        "latencyMs": entry.latency_ms,
        "uuid": entry.request_uuid,
        "idempotencyKey": entry.idempotency_key,
        "replayed": entry.replayed,
        "fault": entry.fault,
        "requestBody": entry.request_body,
        "responseBody": entry.response_body,
    }
