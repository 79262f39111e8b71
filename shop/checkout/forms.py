"""Flask-WTF forms of checkout: delivery, card payment, the Pay with Points steps. Labels go through gettext.

The card form checks the number (Luhn) and expiry before anything reaches the gateway; its values live only
for the request: templates never echo the number or CVC back, and nothing puts them in the session.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp, ValidationError

from ..validation import AsciiDigits, ShopForm, WholeNumberField, is_ascii_digits

HK_DISTRICTS = (
    "Central and Western",
    "Eastern",
    "Southern",
    "Wan Chai",
    "Kowloon City",
    "Kwun Tong",
    "Sham Shui Po",
    "Wong Tai Sin",
    "Yau Tsim Mong",
    "Islands",
    "Kwai Tsing",
    "North",
    "Sai Kung",
    "Sha Tin",
    "Tai Po",
    "Tsuen Wan",
    "Tuen Mun",
    "Yuen Long",
)
# What the shopper reads: the district in their language (the English name is the stored value).
DISTRICT_NAMES = {
    "Central and Western": _l("Central and Western"),
    "Eastern": _l("Eastern"),
    "Southern": _l("Southern"),
    "Wan Chai": _l("Wan Chai"),
    "Kowloon City": _l("Kowloon City"),
    "Kwun Tong": _l("Kwun Tong"),
    "Sham Shui Po": _l("Sham Shui Po"),
    "Wong Tai Sin": _l("Wong Tai Sin"),
    "Yau Tsim Mong": _l("Yau Tsim Mong"),
    "Islands": _l("Islands"),
    "Kwai Tsing": _l("Kwai Tsing"),
    "North": _l("North"),
    "Sai Kung": _l("Sai Kung"),
    "Sha Tin": _l("Sha Tin"),
    "Tai Po": _l("Tai Po"),
    "Tsuen Wan": _l("Tsuen Wan"),
    "Tuen Mun": _l("Tuen Mun"),
    "Yuen Long": _l("Yuen Long"),
}
HK_MOBILE = r"^[4-9][0-9]{7}$"  # ASCII digits: \d would take Arabic-Indic ones


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _digits_only(value: str | None) -> str | None:
    """Shoppers type spaces and dashes in numbers; keep the digits."""
    return re.sub(r"[\s-]", "", value) if isinstance(value, str) else value


def luhn_valid(number: str) -> bool:
    """The Luhn checksum every card number carries."""
    if not is_ascii_digits(number):
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def parse_expiry(value: str) -> tuple[int, int] | None:
    """'MM/YY' (or MM/YYYY) -> (month, four-digit year), or None when it is not a date."""
    match = re.fullmatch(r"([0-9]{1,2}) */ *([0-9]{2}|[0-9]{4})", value.strip())
    if not match:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    return month, (2000 + year if year < 100 else year)


class DeliveryForm(ShopForm):
    name = StringField(
        _l("Recipient name"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the name of the recipient.")), Length(max=80)],
        render_kw={"autocomplete": "name"},
    )
    phone = StringField(
        _l("Mobile for delivery"),
        filters=[_digits_only],
        validators=[
            DataRequired(_l("Enter a mobile number for the courier.")),
            Regexp(HK_MOBILE, message=_l("Enter an 8-digit Hong Kong mobile number.")),
        ],
        render_kw={"autocomplete": "tel-national", "inputmode": "tel"},
    )
    address = StringField(
        _l("Address"),
        filters=[_strip],
        description=_l("Flat, floor, building and street."),
        validators=[DataRequired(_l("Enter the delivery address.")), Length(max=200)],
        render_kw={"autocomplete": "street-address"},
    )
    district = SelectField(
        _l("District"),
        choices=[SelectChoice("", _l("Choose a district"))]
        + [SelectChoice(d, DISTRICT_NAMES[d]) for d in HK_DISTRICTS],
        validators=[DataRequired(_l("Choose a district."))],
    )
    submit = SubmitField(_l("Continue to payment"))

    def validate_district(self, field) -> None:
        if field.data not in HK_DISTRICTS:
            raise ValidationError(_l("Choose a district."))


class PaymentForm(ShopForm):
    card_number = StringField(
        _l("Card number"),
        filters=[_digits_only],
        validators=[DataRequired(_l("Enter the card number."))],
        render_kw={"autocomplete": "cc-number", "inputmode": "numeric"},
    )
    expiry = StringField(
        _l("Expiry (MM/YY)"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the expiry date."))],
        render_kw={"autocomplete": "cc-exp", "placeholder": "MM/YY"},
    )
    cvc = StringField(
        _l("CVC"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the CVC.")),
            AsciiDigits(3, 4, message=_l("The CVC is the 3 or 4 digits on the back of the card.")),
        ],
        render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"},
    )
    holder_name = StringField(
        _l("Name on card"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the name on the card.")), Length(max=80)],
        render_kw={"autocomplete": "cc-name"},
    )
    submit = SubmitField(_l("Pay now"))

    def validate_card_number(self, field) -> None:
        number = field.data or ""
        if not is_ascii_digits(number) or not 12 <= len(number) <= 19:
            raise ValidationError(_l("Enter the 12 to 19 digits of the card number."))
        if not luhn_valid(number):
            raise ValidationError(_l("That card number is not valid: check the digits."))

    def validate_expiry(self, field) -> None:
        parsed = parse_expiry(field.data or "")
        if parsed is None:
            raise ValidationError(_l("Enter the expiry as MM/YY."))
        now = datetime.now(UTC)
        month, year = parsed
        # A card is valid until the end of its expiry month.
        if (year, month) < (now.year, now.month):
            raise ValidationError(_l("This card has expired."))

    @property
    def expiry_month_year(self) -> tuple[int, int]:
        parsed = parse_expiry(self.expiry.data or "")
        if parsed is None:
            raise ValueError("validate the form first")
        return parsed


class MobileForm(ShopForm):
    phone = StringField(
        _l("Mobile number"),
        filters=[_digits_only],
        description=_l("The mobile number registered with your bank. We will text a one-time password to it."),
        validators=[
            DataRequired(_l("Enter your mobile number.")),
            Regexp(HK_MOBILE, message=_l("Enter an 8-digit Hong Kong mobile number.")),
        ],
        render_kw={"autocomplete": "tel-national", "inputmode": "tel"},
    )
    submit = SubmitField(_l("Send code"))


class OtpForm(ShopForm):
    otp = StringField(
        _l("One-time password"),
        filters=[_digits_only],
        validators=[
            DataRequired(_l("Enter the 6-digit code from the SMS.")),
            AsciiDigits(6, message=_l("The code has 6 digits.")),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6},
    )
    submit = SubmitField(_l("Verify"))


class ResendForm(ShopForm):
    resend = SubmitField(_l("Resend code"))


class RestartForm(ShopForm):
    restart = SubmitField(_l("Send a new code"))


class PointsForm(ShopForm):
    points = WholeNumberField(
        _l("Points to use"),
        validators=[
            InputRequired(_l("Enter how many points to use.")),
            NumberRange(min=0, message=_l("Points cannot be negative.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    use_max = SubmitField(_l("Use maximum"))
    submit = SubmitField(_l("Use points"))


class SkipForm(ShopForm):
    skip = SubmitField(_l("Skip"))
