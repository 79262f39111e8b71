"""The sandbox clock: the issuer's notion of 'now', which testers may move forward.

Times are naive UTC datetimes throughout the issuer (SQLite has no time zones); rules modules take
``now`` as an argument, and only views and commands ask this module for it.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from .extensions import db
from .models import SandboxSetting

CLOCK_OFFSET_KEY = "clock_offset_seconds"


def real_utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def offset_seconds() -> int:
    """How far the sandbox clock runs ahead of real time."""
    value = db.session.scalar(sa.select(SandboxSetting.value).where(SandboxSetting.key == CLOCK_OFFSET_KEY))
    return int(value) if value else 0


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
    return int(setting.value)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the partner API writes times."""
    return moment.replace(microsecond=0).isoformat() + "Z"
