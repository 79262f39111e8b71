"""Partner API: enrol a card (link), resend and verify the OTP, unlink."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, g, jsonify

from .. import clock, links, otp
from ..models import RewardLink
from .auth import partner_required
from .parsing import invalid, json_body, reject_unknown_fields, require_string
from .paths import REWARDS, route

bp = Blueprint("links", __name__)

LAST_FOUR = re.compile(r"^[0-9]{4}$", re.ASCII)
CUSTOMER_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,63}$", re.ASCII)
OTP_CODE = re.compile(r"^[0-9]{6}$", re.ASCII)
MAX_LINK_CODE_LENGTH = 64


def _policy() -> otp.OtpPolicy:
    return otp.OtpPolicy.from_config(current_app.config)


def _link(code: str) -> RewardLink:
    """The calling partner's live link, or 404 invalidRewardLinkCode (links.LinkNotFound)."""
    if len(code) > MAX_LINK_CODE_LENGTH:
        raise links.LinkNotFound(code)
    return links.find_link(g.partner_client.id, code)


def _otp_expires_at(link: RewardLink) -> str | None:
    return clock.iso(link.otp_expires_at) if link.otp_expires_at and link.status == links.PENDING else None


@route(bp, f"{REWARDS}/linkage", ["POST"])
@partner_required
def enroll():
    """Enrol a card: match last four + mobile, then the ACTIVE link or a new one with an OTP by SMS."""
    body = json_body()
    reject_unknown_fields(
        body, {"lastFourDigitsCardNumber", "citiCardHolderPhoneNumber", "merchantCustomerReferenceId"}
    )
    last4 = require_string(body, "lastFourDigitsCardNumber", 4)
    if not LAST_FOUR.match(last4):
        raise invalid("lastFourDigitsCardNumber must be the last four digits of the card number.")
    phone = require_string(body, "citiCardHolderPhoneNumber", 20)
    customer = require_string(body, "merchantCustomerReferenceId", 64, CUSTOMER_REFERENCE)
    result = links.enroll(
        g.partner_client, customer, last4, phone, clock.now(), _policy(), current_app.config["BANK_NAME"]
    )
    link = result.link
    return jsonify(
        {
            "rewardLinkCode": link.code,
            "linkStatus": link.status,
            "maskedPhoneNumber": links.mask_phone(link.card.cardholder.phone),
            "otpExpiresAt": _otp_expires_at(link),
        }
    )


@route(bp, f"{REWARDS}/<string:code>/activations/otp", ["POST"])
@partner_required
def resend_otp(code: str):
    """Send a new OTP for a pending link; the previous one stops working."""
    link = _link(code)
    policy = _policy()
    links.resend_otp(link, clock.now(), policy, current_app.config["BANK_NAME"])
    return jsonify(
        {"otpExpiresAt": _otp_expires_at(link), "resendsRemaining": otp.resends_remaining(link, policy)}
    ), 202


@route(bp, f"{REWARDS}/<string:code>/activations", ["PUT"])
@partner_required
def activate(code: str):
    """Verify the OTP typed by the shopper and activate the link."""
    link = _link(code)
    body = json_body()
    reject_unknown_fields(body, {"linkageConfirmationCode"})
    candidate = require_string(body, "linkageConfirmationCode", 6)
    if not OTP_CODE.match(candidate):
        raise invalid("linkageConfirmationCode must be the 6-digit one-time password.")
    links.activate(link, candidate, clock.now(), _policy())  # a wrong code stays counted: the rule commits it
    return jsonify({"linkStatus": links.ACTIVE})


@route(bp, f"{REWARDS}/<string:code>", ["DELETE"])
@partner_required
def unlink(code: str):
    """End the link; its code is unknown from now on."""
    link = _link(code)
    links.unlink(link, clock.now())
    return Response(status=204)
