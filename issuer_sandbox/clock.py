"""The sandbox clock: the issuer's notion of 'now', which testers may move forward.

Times are naive UTC datetimes throughout the issuer (SQLite has no time zones); rules modules take
``now`` as an argument, and only views and commands ask this module for it.
"""

from datetime import UTC, datetime, timedelta
from typing import overload

import sqlalchemy as sa
from flask import has_request_context, request

from .extensions import db
from .models import SandboxSetting

CLOCK_OFFSET_KEY = "clock_offset_seconds"
# Where a request keeps the offset once read: one query per request, one notion of "now" throughout it.
_REQUEST_CACHE_KEY = "issuer.clock_offset_seconds"


def real_utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def offset_seconds() -> int:
    """How far the sandbox clock runs ahead of real time (read once per request)."""
    environ = request.environ if has_request_context() else None  # the proxy looked up once: a hot path
    if environ is not None and _REQUEST_CACHE_KEY in environ:
        return environ[_REQUEST_CACHE_KEY]
    value = db.session.scalar(sa.select(SandboxSetting.value).where(SandboxSetting.key == CLOCK_OFFSET_KEY))
    offset = int(value) if value else 0
    if has_request_context():
        remember_offset(offset)
    return offset


def remember_offset(offset: int) -> None:
    """Use this offset for the rest of the request (read with the call's other context)."""
    request.environ[_REQUEST_CACHE_KEY] = offset


def now() -> datetime:
    """The issuer's current time: real UTC plus the sandbox offset."""
    return real_utcnow() + timedelta(seconds=offset_seconds())


def advance(seconds: int) -> int:
    """Move the sandbox clock forward (never back), commit, and return the new offset."""
    if seconds < 0:
        raise ValueError("The sandbox clock only moves forward.")
    setting = db.session.get(SandboxSetting, CLOCK_OFFSET_KEY)
    if setting is None:
        setting = SandboxSetting(key=CLOCK_OFFSET_KEY, value="0")
        db.session.add(setting)
    setting.value = str(int(setting.value) + seconds)
    db.session.commit()
    offset = int(setting.value)
    if has_request_context():
        remember_offset(offset)
    return offset


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every issuer API writes times; None (a time not reached yet) stays None."""
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"
