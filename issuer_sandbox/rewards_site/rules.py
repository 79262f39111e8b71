"""The bank site's sign-in: a link of the site's own partner per visit, activated by an OTP sent by SMS.

Each identification creates a fresh pending link (so every visit asks for a new code), through ``links.enroll``:
the OTP SMS limits per card and per mobile, the wrong-code limits and the lock after too many wrong codes are
the partner API's, counted together with every merchant's. Functions here commit through the link rules.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .. import links, otp, redemptions
from ..extensions import db
from ..models import Card, PartnerClient, RewardLink
from ..tokens import hash_client_secret

SITE_MERCHANT_NAME = "Rewards site"  # the site's partner, as the console's link listing names it


_SITE_CLIENT = sa.select(PartnerClient).where(PartnerClient.client_id == links.BANK_SITE_CLIENT_ID)


def site_client_id() -> int | None:
    """The id of the site's partner, None until the first visitor identified (no link exists before)."""
    client = db.session.scalar(_SITE_CLIENT)
    return client.id if client is not None else None


def site_client(now: datetime) -> PartnerClient:
    """The partner that owns the site's sign-in links, created on first use (after a reset too).

    Its secret is random and never kept, so no caller can take a partner token as the bank's site.
    """
    client = db.session.scalar(_SITE_CLIENT)
    if client is not None:
        return client
    try:
        with db.session.begin_nested():
            client = PartnerClient(
                client_id=links.BANK_SITE_CLIENT_ID,
                secret_hash=hash_client_secret(secrets.token_urlsafe(32)),
                merchant_name=SITE_MERCHANT_NAME,
                created_at=now,
            )
            db.session.add(client)
    except IntegrityError:  # another worker created it first
        client = db.session.scalars(_SITE_CLIENT).one()
    return client


def start_sign_in(
    last4: str, mobile: str, now: datetime, policy: otp.OtpPolicy, bank_name: str, language: str = links.ENGLISH
) -> RewardLink:
    """Match the card and text it a sign-in OTP; returns the pending link. Commits.

    Raises InvalidPhoneNumber, AccountNotFound, NotEligibleToRedeem, OtpRequestLimitExceeded or
    OtpDeliveryFailed, having sent nothing.
    """
    client = site_client(now)
    visit = f"site-{secrets.token_hex(8)}"  # a reference of its own: each visit signs in afresh
    return links.enroll(client, visit, last4, mobile, now, policy, bank_name, language).link


def site_link(code: str) -> RewardLink | None:
    """The site's link with this code (pending or signed in), or None when it is unknown or ended."""
    client_id = site_client_id()
    if client_id is None:
        return None
    try:
        return links.find_link(client_id, code)
    except links.LinkNotFound:
        return None


def signed_in_card(code: str) -> Card | None:
    """The card of a signed-in site link (its OTP verified), or None."""
    link = site_link(code)
    return link.card if link is not None and link.status == links.ACTIVE else None


def points_balance(code: str) -> redemptions.PointBalance:
    """The signed-in card's points and the programme's terms, as the partner API's balance call has them."""
    return redemptions.point_balance(_require_client_id(), code)


def redeem(code: str, payment_id: str, points: int, now: datetime) -> redemptions.SiteRedemption:
    """Redeem points against one of the signed-in card's purchases (``redemptions.redeem_on_bank_site``)."""
    return redemptions.redeem_on_bank_site(_require_client_id(), code, payment_id, points, now)


def _require_client_id() -> int:
    client_id = site_client_id()
    if client_id is None:
        raise links.LinkNotFound("")
    return client_id


def verify_code(link: RewardLink, code: str, now: datetime, policy: otp.OtpPolicy) -> None:
    """Check the OTP (``links.activate``: a wrong code is counted and committed before it is refused)."""
    links.activate(link, code, now, policy)


def resend_code(
    link: RewardLink, now: datetime, policy: otp.OtpPolicy, bank_name: str, language: str | None = None
) -> None:
    """Text a new OTP for the pending sign-in (cooldown, resend and SMS limits apply). Commits."""
    links.resend_otp(link, now, policy, bank_name, language)


def sign_out(code: str, now: datetime) -> None:
    """End the visit's link, so its code signs nobody in again. Commits."""
    link = site_link(code)
    if link is not None:
        links.unlink(link, now)
