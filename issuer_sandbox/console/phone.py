"""The phone: the SMS outbox of one mobile number, newest first, as a phone would show it."""

from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, jsonify, render_template, request, url_for

from .. import clock, i18n, inspection
from ..otp import OTP_IN_SMS, otp_in_sms
from .auth import login_required, login_required_json
from .forms import PhoneForm, choices

bp = Blueprint("console_phone", __name__)

MESSAGE_LIMIT = 50
PHONE_PATTERN = re.compile(r"^[0-9]{4,16}$")


def format_phone(phone: str) -> str:
    """'91234567' -> '9123 4567', the way Hong Kong numbers are written."""
    return f"{phone[:4]} {phone[4:]}" if len(phone) == 8 else phone


def _holders(phone: str) -> str:
    return ", ".join(inspection.holder_names(phone))


def _phone_choices() -> list[tuple[str, str]]:
    """Every cardholder's mobile (with the holder's name), then any other number the outbox wrote to."""
    labels: dict[str, str] = {}
    for phone, name in inspection.cardholder_phones():
        if phone in labels:
            labels[phone] += f", {name}"
        else:
            labels[phone] = f"{format_phone(phone)} · {name}"
    for phone in inspection.outbox_phones():
        labels.setdefault(phone, format_phone(phone))
    return list(labels.items())


def _messages(phone: str) -> list[inspection.OutboxMessage]:
    return inspection.sms_messages(phone, MESSAGE_LIMIT)


def otp_parts(body: str) -> list[tuple[str, bool]]:
    """Split a message so its one-time password can be shown in bold: [(text, is_code), ...]."""
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in OTP_IN_SMS.finditer(body):
        if match.start() > position:
            parts.append((body[position : match.start()], False))
        parts.append((match.group(), True))
        position = match.end()
    if position < len(body):
        parts.append((body[position:], False))
    return parts


def _display_time(moment: datetime) -> str:
    return i18n.short_time(moment)


def _selected_phone(options: list[tuple[str, str]]) -> str:
    wanted = (request.args.get("phone") or "").replace(" ", "")
    if PHONE_PATTERN.fullmatch(wanted):
        return wanted
    return options[0][0] if options else ""


@bp.get("/phone")
@login_required
def phone():
    options = _phone_choices()
    selected = _selected_phone(options)
    if selected and selected not in dict(options):
        options.append((selected, format_phone(selected)))
    form = PhoneForm(formdata=None, phone=selected)
    form.phone.choices = choices(options)
    return render_template(
        "issuer/phone.html",
        form=form,
        phone=selected,
        phone_display=format_phone(selected),
        holder=_holders(selected) if selected else "",
        messages=_messages(selected) if selected else [],
        display_time=_display_time,
        otp_parts=otp_parts,
        poll_url=url_for(".messages_json", phone=selected) if selected else "",
    )


@bp.get("/phone/messages.json")
@login_required_json
def messages_json():
    """What phone.js polls: the same list as the page, newest first."""
    phone = (request.args.get("phone") or "").replace(" ", "")
    if not PHONE_PATTERN.fullmatch(phone):
        return jsonify({"type": "invalid", "code": "invalidRequest", "details": "phone must be digits."}), 400
    return jsonify(
        {
            "phone": phone,
            "messages": [
                {
                    "id": message.id,
                    "body": message.body,
                    "sentAt": clock.iso(message.sent_at),
                    "otp": otp_in_sms(message.body),  # phone.js shows it in bold
                    "rewardLinkCode": message.reward_link_code,
                    "merchantCustomerReferenceId": message.customer_reference,
                    "sentAtDisplay": _display_time(message.sent_at),
                }
                for message in _messages(phone)
            ],
        }
    )
