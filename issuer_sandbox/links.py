"""Reward links: a merchant customer's link to a points card, activated by a one-time password.

Plain rules: they take ``now`` and an ``OtpPolicy``, change the session and raise named exceptions; the API
view commits (also after a wrong OTP, whose attempt must be counted).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from . import otp
from .errors import RuleError
from .extensions import db
from .models import Card, Cardholder, PartnerClient, RewardLink, SmsMessage

PENDING = "PENDING_ACTIVATION"
ACTIVE = "ACTIVE"
LOCKED = "LOCKED"
UNLINKED = "UNLINKED"

# The bank's own redemption site signs its visitors in through links of its own (rewards_site/rules.py): the
# same OTP rules and limits as a merchant's enrolment, under a partner no merchant can authenticate as.
BANK_SITE_CLIENT_ID = "summit-rewards-site"

# 8 ASCII digits after removing spaces, dashes and an optional +852 / 852 country code.
_PHONE_SEPARATORS = re.compile(r"[\s-]+")
_PHONE = re.compile(r"(?:\+?852)?([0-9]{8})", re.ASCII)


class LinkError(RuleError):
    """Base of the link rule violations."""


class LinkNotFound(LinkError):
    """No live link with that code belongs to this partner (another partner's link is not found either)."""

    status = 404
    code = "invalidRewardLinkCode"

    @property
    def details(self) -> str:
        return "The rewardLinkCode is unknown to this client or no longer linked."  # never echo the code


class InvalidPhoneNumber(LinkError, ValueError):
    """Not an 8-digit Hong Kong mobile number."""

    status = 400
    code = "invalidRequest"


class AccountNotFound(LinkError):
    """No Summit card matches the last four digits and the cardholder's mobile."""

    status = 404
    code = "accountNotFound"


class NotEligibleToRedeem(LinkError):
    """The card matched but is frozen or not in a points programme."""

    status = 422
    code = "notEligibleToRedeem"


class OtpDeliveryFailed(LinkError):
    """The SMS could not be delivered to the card's registered mobile."""

    status = 503
    code = "otpDeliveryFailed"


class LinkAlreadyActive(LinkError):
    """The link is already active: there is nothing to verify."""

    status = 409
    code = "linkAlreadyActive"


class LinkLocked(LinkError):
    """Too many wrong codes locked this link; enrol again for a fresh one."""

    status = 423
    code = "maxAttemptsExceeded"


class OtpRequestLimitExceeded(LinkError):
    """Too many OTP SMS to this card or mobile, or too many wrong codes for this card, in the last window.

    Counted per card and per phone across links and merchants: re-enrolling buys no more SMS or guesses.
    """

    status = 429
    code = "otpRequestLimitExceeded"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"Too many one-time passwords were requested for this card; try again in {retry_after_seconds} s."
        )
        self.retry_after_seconds = retry_after_seconds

    def extra_fields(self) -> dict[str, Any]:
        return {"retryAfterSeconds": self.retry_after_seconds}

    def extra_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


@dataclass(frozen=True)
class EnrollResult:
    link: RewardLink
    otp: str | None  # the digits just sent, None when an ACTIVE link was returned


def normalize_phone(raw: str) -> str:
    """'+852 9123-4567' -> '91234567'; raise InvalidPhoneNumber for anything but 8 digits."""
    match = _PHONE.fullmatch(_PHONE_SEPARATORS.sub("", raw))
    if match is None:
        raise InvalidPhoneNumber("The phone number must be an 8-digit Hong Kong mobile number.")
    return match.group(1)


def mask_phone(phone: str) -> str:
    """'91234567' -> '****4567', as the enrol response shows it."""
    return "****" + phone[-4:]


def new_link_code() -> str:
    """An opaque, unguessable rewardLinkCode."""
    return "RL-" + secrets.token_urlsafe(24)


def find_link(partner_client_id: int, code: str) -> RewardLink:
    """The link with this code, if the calling partner created it and it has not been unlinked."""
    link = db.session.scalar(
        sa.select(RewardLink).where(
            RewardLink.code == code,
            RewardLink.partner_client_id == partner_client_id,
            RewardLink.status != UNLINKED,
        )
    )
    if link is None:
        raise LinkNotFound(code)
    return link


ENGLISH = "en"
CHINESE = "zh_Hant_HK"
SMS_LANGUAGES = (ENGLISH, CHINESE)


def _validity(ttl_seconds: int, language: str = ENGLISH) -> str:
    minutes = ttl_seconds // 60
    if language == CHINESE:
        return f"{minutes} 分鐘" if ttl_seconds % 60 == 0 else f"{ttl_seconds} 秒"
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if ttl_seconds % 60 == 0 else f"{ttl_seconds} seconds"


def otp_sms_text(
    bank_name: str, otp_digits: str, last4: str, merchant_name: str, ttl_seconds: int, language: str = ENGLISH
) -> str:
    """The SMS as the bank sends it, in the cardholder's language (the code always follows 一次性密碼為 or
    precedes "is your one-time password", which is how otp.OTP_IN_SMS finds it)."""
    if language == CHINESE:
        return (
            f"{bank_name}：你的一次性密碼為 {otp_digits}，用於將尾號 {last4} 的信用卡連結至 {merchant_name}。"
            f"{_validity(ttl_seconds, CHINESE)}內有效，切勿向任何人透露。"
        )
    return (
        f"{bank_name}: {otp_digits} is your one-time password to link your card ending {last4} "
        f"with {merchant_name}. Valid for {_validity(ttl_seconds)}. Never share it."
    )


def site_sign_in_sms_text(
    bank_name: str, otp_digits: str, last4: str, ttl_seconds: int, language: str = ENGLISH
) -> str:
    """The SMS that signs a cardholder in to the bank's own redemption site."""
    if language == CHINESE:
        return (
            f"{bank_name}：你的一次性密碼為 {otp_digits}，用於以尾號 {last4} 的信用卡登入 {bank_name} Rewards。"
            f"{_validity(ttl_seconds, CHINESE)}內有效，切勿向任何人透露。"
        )
    return (
        f"{bank_name}: {otp_digits} is your one-time password to sign in to {bank_name} Rewards with your card "
        f"ending {last4}. Valid for {_validity(ttl_seconds)}. Never share it."
    )


def _eligible(card: Card) -> bool:
    return card.status == "ACTIVE" and card.programme_id is not None


def match_card(last4: str, phone: str) -> Card:
    """The points card with these last four digits whose holder has this mobile."""
    cards = db.session.scalars(
        sa.select(Card)
        .join(Cardholder, Card.cardholder_id == Cardholder.id)
        .where(Card.last4 == last4, Cardholder.phone == phone)
        .order_by(Card.id)
    ).all()
    if not cards:
        raise AccountNotFound("No Summit Bank card matches those last four digits and mobile number.")
    eligible = [card for card in cards if _eligible(card)]
    if not eligible:
        raise NotEligibleToRedeem("This card cannot be used for Pay with Points (frozen or not in a programme).")
    return eligible[0]


def _otp_sms_to_card(card_id: int, limit: otp.CountLimit, now: datetime) -> list[tuple[datetime, int]]:
    """The newest OTP SMS sent for any link of this card inside the limit's window (at most ``amount``)."""
    times = db.session.scalars(
        sa.select(SmsMessage.sent_at)
        .join(RewardLink, RewardLink.id == SmsMessage.reward_link_id)
        .where(RewardLink.card_id == card_id, SmsMessage.sent_at > limit.window_start(now))
        .order_by(SmsMessage.sent_at.desc())
        .limit(limit.amount)
    ).all()
    return [(at, 1) for at in times]


def _otp_sms_to_phone(phone: str, limit: otp.CountLimit, now: datetime) -> list[tuple[datetime, int]]:
    """The newest OTP SMS (those of a link) sent to this mobile inside the limit's window."""
    times = db.session.scalars(
        sa.select(SmsMessage.sent_at)
        .where(
            SmsMessage.phone == phone,
            SmsMessage.reward_link_id.is_not(None),
            SmsMessage.sent_at > limit.window_start(now),
        )
        .order_by(SmsMessage.sent_at.desc())
        .limit(limit.amount)
    ).all()
    return [(at, 1) for at in times]


def _failed_attempts_on_card(card_id: int, limit: otp.CountLimit, now: datetime) -> list[tuple[datetime, int]]:
    """Wrong codes on this card's links whose last OTP went out inside the window, newest link first.

    A code can be guessed only while its OTP lives, so the time of the last SMS dates its attempts (to within
    the OTP's lifetime) without a row per attempt.
    """
    sent_at = sa.func.coalesce(RewardLink.otp_sent_at, RewardLink.created_at)
    rows = db.session.execute(
        sa.select(sent_at, RewardLink.failed_attempts)
        .where(RewardLink.card_id == card_id, RewardLink.failed_attempts > 0, sent_at > limit.window_start(now))
        .order_by(sent_at.desc())
    ).all()
    return [(at, attempts) for at, attempts in rows]


def check_otp_request_allowed(card: Card, now: datetime, policy: otp.OtpPolicy) -> None:
    """Raise OtpRequestLimitExceeded when this card or its mobile may not be sent another OTP yet."""
    phone = card.cardholder.phone
    waits = [
        policy.sms_per_card.retry_after(_otp_sms_to_card(card.id, policy.sms_per_card, now), now),
        policy.sms_per_phone.retry_after(_otp_sms_to_phone(phone, policy.sms_per_phone, now), now),
        policy.failed_attempts_per_card.retry_after(
            _failed_attempts_on_card(card.id, policy.failed_attempts_per_card, now), now
        ),
    ]
    longest = max((wait for wait in waits if wait is not None), default=None)
    if longest is not None:
        raise OtpRequestLimitExceeded(longest)


def card_guesses_exhausted(card_id: int, now: datetime, policy: otp.OtpPolicy) -> bool:
    """Whether this card's links together used up the wrong codes allowed in the window."""
    limit = policy.failed_attempts_per_card
    return limit.retry_after(_failed_attempts_on_card(card_id, limit, now), now) is not None


def _send_otp(
    link: RewardLink, card: Card, partner: PartnerClient, now: datetime, policy: otp.OtpPolicy, bank: str
) -> str:
    digits = otp.issue_otp(link, now, policy)
    phone = card.cardholder.phone
    if partner.client_id == BANK_SITE_CLIENT_ID:
        text = site_sign_in_sms_text(bank, digits, card.last4, policy.ttl_seconds, link.language)
    else:
        text = otp_sms_text(bank, digits, card.last4, partner.merchant_name, policy.ttl_seconds, link.language)
    db.session.add(SmsMessage(phone=phone, body=text, sent_at=now, reward_link_id=link.id))
    return digits


def enroll(
    partner: PartnerClient,
    customer_reference: str,
    last4: str,
    phone: str,
    now: datetime,
    policy: otp.OtpPolicy,
    bank_name: str,
    language: str = ENGLISH,
) -> EnrollResult:
    """Link a merchant customer to a card: the existing ACTIVE link, or a new pending one with an OTP by SMS.

    One transaction: commits the new link and its SMS; a refusal writes nothing.
    """
    card = match_card(last4, normalize_phone(phone))
    existing = db.session.scalars(
        sa.select(RewardLink)
        .where(
            RewardLink.partner_client_id == partner.id,
            RewardLink.merchant_customer_reference == customer_reference,
            RewardLink.card_id == card.id,
        )
        .order_by(RewardLink.id)
    ).all()
    for link in existing:
        if link.status == ACTIVE:
            db.session.rollback()  # nothing was written: end the read so the caller holds no lock
            return EnrollResult(link, None)
    # Checked before anything is written, so a failed delivery leaves no usable link behind.
    check_otp_request_allowed(card, now, policy)
    if not card.sms_deliverable:
        raise OtpDeliveryFailed("The one-time password could not be sent to the card's registered mobile.")
    for link in existing:
        if link.status == PENDING:  # an older pending link stops working once a new OTP goes out
            link.status = UNLINKED
            link.otp_hash = None
            link.unlinked_at = now
    link = RewardLink(
        code=new_link_code(),
        partner_client_id=partner.id,
        merchant_customer_reference=customer_reference,
        card_id=card.id,
        status=PENDING,
        failed_attempts=0,
        resends_used=0,
        created_at=now,
        language=_sms_language(language),
    )
    db.session.add(link)
    db.session.flush()
    digits = _send_otp(link, card, partner, now, policy, bank_name)
    db.session.commit()
    return EnrollResult(link, digits)


def _require_pending(link: RewardLink) -> None:
    if link.status == ACTIVE:
        raise LinkAlreadyActive("This reward link is already active.")
    if link.status == LOCKED:
        raise LinkLocked("Too many wrong one-time passwords: the link is locked; enrol again.")


def _sms_language(language: str | None) -> str:
    return language if language in SMS_LANGUAGES else ENGLISH


def resend_otp(
    link: RewardLink, now: datetime, policy: otp.OtpPolicy, bank_name: str, language: str | None = None
) -> str:
    """Send a new OTP for a pending link (the old one stops working); return its digits.

    The SMS is in the link's language, or in ``language`` when the resend asks for one (which the link keeps).
    """
    _require_pending(link)
    otp.check_resend_allowed(link, now, policy)
    check_otp_request_allowed(link.card, now, policy)
    if not link.card.sms_deliverable:
        raise OtpDeliveryFailed("The one-time password could not be sent to the card's registered mobile.")
    link.resends_used = (link.resends_used or 0) + 1
    if language is not None:
        link.language = _sms_language(language)
    digits = _send_otp(link, link.card, link.partner_client, now, policy, bank_name)
    db.session.commit()
    return digits


def activate(link: RewardLink, candidate: str, now: datetime, policy: otp.OtpPolicy) -> None:
    """Verify the OTP and activate the link, and commit.

    A wrong code is counted on the link and that count is committed before the error is raised: an
    attacker must not get more guesses by making the request fail.
    """
    _require_pending(link)
    if card_guesses_exhausted(link.card_id, now, policy):
        # Guesses count per card too: a fresh link (re-enrolment) must not buy another round of them.
        link.status = LOCKED
        link.otp_hash = None
        db.session.commit()
        raise otp.MaxAttemptsExceeded("Too many wrong one-time passwords for this card: the link is locked.")
    try:
        otp.verify_otp(link, candidate, now, policy)
    except otp.MaxAttemptsExceeded:
        link.status = LOCKED
        db.session.commit()
        raise
    except otp.OtpError:
        db.session.commit()
        raise
    link.status = ACTIVE
    link.activated_at = now
    db.session.commit()


def unlink(link: RewardLink, now: datetime) -> None:
    """End the link, and commit: its code answers 'not found' from now on."""
    link.status = UNLINKED
    link.otp_hash = None
    link.unlinked_at = now
    db.session.commit()
