"""One-time passwords for linking a card: generated with secrets, kept only as a keyed hash, single use.

The OTP state lives on the RewardLink (hash, expiry, send time, failed attempts, resends). These rules take
``now`` and an ``OtpPolicy`` as arguments and raise named exceptions; they never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import limits

from .errors import RuleError
from .models import RewardLink

OTP_DIGITS = 6
# The code in the bank's OTP SMS (links.otp_sms_text): the six digits alone, so one pattern both finds them
# (``search(...).group()``) and masks them (``sub``). Other digit runs in the text are left alone.
# In Chinese the code follows "一次性密碼為 " instead.
OTP_IN_SMS = re.compile(r"(?<![0-9])[0-9]{6}(?= is your one-time password)|(?<=一次性密碼為 )[0-9]{6}(?![0-9])")


@dataclass(frozen=True)
class CountLimit:
    """At most ``amount`` events in any ``window_seconds`` (e.g. 5 OTP SMS per card per hour)."""

    amount: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> CountLimit:
        """'5 per hour' -> CountLimit(5, 3600), in the notation of the `limits` library (as Flask-Limiter's)."""
        item = limits.parse(text)
        return cls(item.amount, item.get_expiry())

    def window_start(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.window_seconds)

    def retry_after(self, events: list[tuple[datetime, int]], now: datetime) -> int | None:
        """Seconds until one more event is allowed, or None while it is allowed now.

        ``events`` are (time, weight) inside the window, newest first: the limit lifts when the oldest of the
        newest events that together reach ``amount`` leaves the window.
        """
        total = 0
        for at, weight in events:
            total += weight
            if total >= self.amount:
                ready_at = at + timedelta(seconds=self.window_seconds)
                return max(1, math.ceil((ready_at - now).total_seconds()))
        return None


@dataclass(frozen=True)
class OtpPolicy:
    """The OTP settings of the bank (config OTP_*)."""

    hash_key: str
    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_cooldown_seconds: int = 30
    max_resends: int = 3
    # Across links and merchants, so re-enrolling buys neither more SMS nor more guesses (links.py counts).
    sms_per_card: CountLimit = CountLimit(5, 3600)
    sms_per_phone: CountLimit = CountLimit(10, 3600)
    failed_attempts_per_card: CountLimit = CountLimit(10, 3600)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OtpPolicy:
        """The policy from an app's config mapping (the caller passes it: no Flask import here)."""
        return cls(
            hash_key=config["OTP_HASH_KEY"],
            ttl_seconds=int(config["OTP_TTL_SECONDS"]),
            max_attempts=int(config["OTP_MAX_ATTEMPTS"]),
            resend_cooldown_seconds=int(config["OTP_RESEND_COOLDOWN_SECONDS"]),
            max_resends=int(config["OTP_MAX_RESENDS"]),
            sms_per_card=CountLimit.parse(config["OTP_SMS_LIMIT_PER_CARD"]),
            sms_per_phone=CountLimit.parse(config["OTP_SMS_LIMIT_PER_PHONE"]),
            failed_attempts_per_card=CountLimit.parse(config["OTP_FAILED_ATTEMPTS_LIMIT_PER_CARD"]),
        )


class OtpError(RuleError):
    """Base of the OTP rule violations."""


class OtpInvalid(OtpError):
    """The code does not match; the attempt was counted."""

    status = 422
    code = "invalidLinkageConfirmationCode"

    def __init__(self, attempts_remaining: int) -> None:
        super().__init__(f"The one-time password is wrong; {attempts_remaining} attempt(s) left.")
        self.attempts_remaining = attempts_remaining

    @property
    def details(self) -> str:
        return "The one-time password is wrong."

    def extra_fields(self) -> dict[str, Any]:
        return {"attemptsRemaining": self.attempts_remaining}


class OtpExpired(OtpError):
    """The current OTP is past its expiry (or was already used); request a new one."""

    status = 422
    code = "otpExpired"


class MaxAttemptsExceeded(OtpError):
    """Too many wrong codes: the link is locked."""

    status = 423
    code = "maxAttemptsExceeded"


class ResendTooSoon(OtpError):
    """A new OTP was requested within the cooldown."""

    status = 429
    code = "otpResendTooSoon"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Wait {retry_after_seconds} s before requesting another one-time password.")
        self.retry_after_seconds = retry_after_seconds

    def extra_fields(self) -> dict[str, Any]:
        return {"retryAfterSeconds": self.retry_after_seconds}

    def extra_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class MaxResendsExceeded(OtpError):
    """Every allowed resend was used; enrol again for a fresh link."""

    status = 429
    code = "maxResendsExceeded"


def otp_in_sms(text: str) -> str | None:
    """The one-time password an SMS of the bank carries, or None for any other message."""
    match = OTP_IN_SMS.search(text)
    return match.group() if match else None


def generate_otp() -> str:
    """Six random digits from the operating system's CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def hash_otp(hash_key: str, link_code: str, otp: str) -> str:
    """HMAC-SHA256 of the OTP, bound to its link so a hash cannot be replayed on another link."""
    message = f"{link_code}:{otp}".encode()
    return hmac.new(hash_key.encode(), message, hashlib.sha256).hexdigest()


def otp_matches(hash_key: str, link_code: str, otp: str, stored_hash: str) -> bool:
    """Constant-time comparison of a candidate OTP with the stored hash."""
    return hmac.compare_digest(hash_otp(hash_key, link_code, otp), stored_hash)


def issue_otp(link: RewardLink, now: datetime, policy: OtpPolicy) -> str:
    """Give the link a new OTP (the previous one stops working) and return its digits, to be sent by SMS."""
    otp = generate_otp()
    link.otp_hash = hash_otp(policy.hash_key, link.code, otp)
    link.otp_expires_at = now + timedelta(seconds=policy.ttl_seconds)
    link.otp_sent_at = now
    return otp


def check_resend_allowed(link: RewardLink, now: datetime, policy: OtpPolicy) -> None:
    """Raise MaxResendsExceeded or ResendTooSoon when another OTP may not be sent yet."""
    if (link.resends_used or 0) >= policy.max_resends:
        raise MaxResendsExceeded(f"At most {policy.max_resends} new one-time passwords may be requested.")
    if link.otp_sent_at is not None:
        ready_at = link.otp_sent_at + timedelta(seconds=policy.resend_cooldown_seconds)
        if now < ready_at:
            raise ResendTooSoon(max(1, math.ceil((ready_at - now).total_seconds())))


def resends_remaining(link: RewardLink, policy: OtpPolicy) -> int:
    """How many more OTPs the partner may request for this link."""
    return max(0, policy.max_resends - (link.resends_used or 0))


def verify_otp(link: RewardLink, candidate: str, now: datetime, policy: OtpPolicy) -> None:
    """Accept the OTP once, or count the wrong attempt and raise.

    A wrong code increments ``failed_attempts`` on the link *before* raising: the caller must commit even
    though it answers with an error, or a brute-forcer could retry for free. Attempts count per link,
    across resends, so a resend does not buy more guesses.
    """
    if (link.failed_attempts or 0) >= policy.max_attempts:
        raise MaxAttemptsExceeded("Too many wrong one-time passwords: the link is locked; enrol again.")
    if link.otp_hash is None or link.otp_expires_at is None or now >= link.otp_expires_at:
        raise OtpExpired("The one-time password has expired; request a new one.")
    if not otp_matches(policy.hash_key, link.code, candidate, link.otp_hash):
        link.failed_attempts = (link.failed_attempts or 0) + 1
        remaining = policy.max_attempts - link.failed_attempts
        if remaining <= 0:
            link.otp_hash = None  # a locked link keeps no usable secret
            raise MaxAttemptsExceeded("Too many wrong one-time passwords: the link is locked; enrol again.")
        raise OtpInvalid(remaining)
    # Single use: the hash is gone once it has been accepted.
    link.otp_hash = None
    link.otp_expires_at = None
