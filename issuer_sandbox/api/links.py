"""Partner API: enrol a card (link), resend and verify the OTP, unlink."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g

from .. import clock, i18n, links, otp, schemas
from ..models import RewardLink
from .auth import partner_required
from .paths import REWARDS, route
from .validation import parse_body

bp = Blueprint("links", __name__)

MAX_LINK_CODE_LENGTH = 64


def _policy() -> otp.OtpPolicy:
    return otp.OtpPolicy.from_config(current_app.config)


def _link(code: str) -> RewardLink:
    """The calling partner's live link, or 404 invalidRewardLinkCode (links.LinkNotFound)."""
    if len(code) > MAX_LINK_CODE_LENGTH:
        raise links.LinkNotFound(code)
    return links.find_link(g.partner_client.id, code)


def _json(body: schemas.ResponseModel, status: int = 200) -> Response:
    return current_app.response_class(body.to_json(), status=status, mimetype="application/json")


def _otp_expires_at(link: RewardLink) -> str | None:
    return clock.iso(link.otp_expires_at) if link.otp_expires_at and link.status == links.PENDING else None


@route(bp, f"{REWARDS}/linkage", ["POST"])
@partner_required
def enroll():
    """Enrol a card: match last four + mobile, then the ACTIVE link or a new one with an OTP by SMS."""
    body = parse_body(schemas.EnrollRequest)
    result = links.enroll(
        g.partner_client,
        body.customer_reference,
        body.last_four,
        body.phone,
        clock.now(),
        _policy(),
        current_app.config["BANK_NAME"],
        i18n.sms_language_of_request() or links.ENGLISH,
    )
    link = result.link
    return _json(
        schemas.EnrollResponse(
            reward_link_code=link.code,
            link_status=link.status,
            masked_phone_number=links.mask_phone(link.card.cardholder.phone),
            otp_expires_at=_otp_expires_at(link),
        )
    )


@route(bp, f"{REWARDS}/<string:code>/activations/otp", ["POST"])
@partner_required
def resend_otp(code: str):
    """Send a new OTP for a pending link; the previous one stops working."""
    link = _link(code)
    policy = _policy()
    language = i18n.sms_language_of_request()  # none asked for: the link's own language
    links.resend_otp(link, clock.now(), policy, current_app.config["BANK_NAME"], language)
    body = schemas.ResendOtpResponse(
        otp_expires_at=_otp_expires_at(link), resends_remaining=otp.resends_remaining(link, policy)
    )
    return _json(body, 202)


@route(bp, f"{REWARDS}/<string:code>/activations", ["PUT"])
@partner_required
def activate(code: str):
    """Verify the OTP typed by the shopper and activate the link."""
    link = _link(code)
    body = parse_body(schemas.ActivateRequest)
    links.activate(link, body.code, clock.now(), _policy())  # a wrong code stays counted: the rule commits it
    return _json(schemas.ActivateResponse(link_status=links.ACTIVE))


@route(bp, f"{REWARDS}/<string:code>", ["DELETE"])
@partner_required
def unlink(code: str):
    """End the link; its code is unknown from now on."""
    link = _link(code)
    links.unlink(link, clock.now())
    return Response(status=204)
