"""Flask-WTF forms of the sandbox console. Every form that changes something carries a CSRF token."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import DateInput

from .. import controls
from ..form_base import SandboxForm


def choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as the select options WTForms wants."""
    return [SelectChoice(value, label) for value, label in pairs]


class WholeNumberField(IntegerField):
    """An integer field whose 'not a number' error says what to type, and that stops at that one error."""

    def __init__(self, label=None, validators=None, invalid_message: str = _l("Enter a whole number."), **kwargs):
        super().__init__(label, validators, **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist: list[str]) -> None:
        text = valuelist[0].strip() if valuelist else ""
        if not text:
            self.data = None  # empty: InputRequired or Optional decides
            return
        if not re.fullmatch(r"[+-]?[0-9]{1,15}", text):
            self.data = None
            raise ValueError(self.invalid_message)
        self.data = int(text)

    def pre_validate(self, form) -> None:
        if self.process_errors:
            raise StopValidation()  # "12.5 is not a whole number" is enough; no range message on top


class Between(NumberRange):
    """A NumberRange whose message names the field and writes the bounds as the page's locale does."""

    def __init__(self, low: int, high: int, what: str) -> None:
        super().__init__(low, high)
        self.what = what

    def __call__(self, form, field) -> None:
        value = field.data
        if value is None or not self.min <= value <= self.max:
            raise ValidationError(
                _(
                    "%(what)s must be between %(low)s and %(high)s.",
                    what=str(self.what),
                    low=format_decimal(self.min),
                    high=format_decimal(self.max),
                )
            )


def between(low: int, high: int, what: str) -> Between:
    """The range check of a whole-number field; ``what`` is a translatable label such as _l("Minutes")."""
    return Between(low, high, what)


class LoginForm(SandboxForm):
    password = PasswordField(
        _l("Console password"), validators=[DataRequired(message=_l("Enter the console password."))]
    )
    submit = SubmitField(_l("Sign in"))


class ActionForm(SandboxForm):
    """A button that changes something (freeze, unlink, remove, reset, sign out): only the CSRF token."""


class AdjustPointsForm(SandboxForm):
    delta = WholeNumberField(
        _l("Points to add (negative to remove)"),
        validators=[
            InputRequired(message=_l("Enter a whole number of points, e.g. 5000 or -5000.")),
            between(-controls.MAX_ADJUSTMENT, controls.MAX_ADJUSTMENT, _l("The points change")),
        ],
        invalid_message=_l("Enter a whole number of points, e.g. 5000 or -5000."),
    )
    reason = StringField(
        _l("Reason"),
        validators=[
            DataRequired(message=_l("Give a reason for the adjustment.")),
            Length(max=controls.REASON_MAX_LENGTH),
        ],
    )
    submit = SubmitField(_l("Adjust points"))

    def validate_delta(self, field: IntegerField) -> None:
        if field.data == 0:
            raise ValidationError(_("The points change must not be zero."))


PROGRAMME_CHOICES = [
    ("REWARDS", _l("Summit Rewards (250 pts = HK$1)")),
    ("PREMIER", _l("Summit Premier Miles (200 pts = HK$1)")),
    ("", _l("None: debit card without points")),
]


class CardholderForm(SandboxForm):
    name = StringField(
        _l("Cardholder name"), validators=[DataRequired(message=_l("Enter the cardholder's name.")), Length(max=80)]
    )
    mobile = StringField(
        _l("Mobile number"),
        validators=[DataRequired(message=_l("Enter an 8-digit Hong Kong mobile number."))],
        description=_l("8 digits, e.g. 9876 5432. The OTPs for this card go to this number."),
    )
    programme = SelectField(_l("Programme"), choices=choices(PROGRAMME_CHOICES), default="REWARDS")
    points = WholeNumberField(
        _l("Opening points"),
        default=100_000,
        invalid_message=_l("Enter the opening points as a whole number (0 for none)."),
        validators=[
            InputRequired(message=_l("Enter the opening points (0 for none).")),
            between(0, controls.MAX_OPENING_POINTS, _l("Opening points")),
        ],
    )
    credit_limit = StringField(
        _l("Credit limit (HK$)"),
        default="50000",
        validators=[DataRequired(message=_l("Enter the credit limit in HK$, e.g. 50000."))],
    )
    submit = SubmitField(_l("Create cardholder"))

    def validate_mobile(self, field: StringField) -> None:
        if not controls.MOBILE_PATTERN.fullmatch(controls.normalise_mobile(field.data)):
            raise ValidationError(_("The mobile number must be 8 digits starting with 4 to 9, e.g. 9123 4567."))

    def validate_credit_limit(self, field: StringField) -> None:
        if credit_limit_cents(field.data) is None:
            raise ValidationError(_("The credit limit must be an amount in HK$ such as 50000 or 100.50."))

    def validate_points(self, field: IntegerField) -> None:
        if not self.programme.data and field.data:
            raise ValidationError(_("A card without a points programme cannot hold points: enter 0."))


def credit_limit_cents(text: str | None) -> int | None:
    """'50,000.50' -> 5000050 cents; None when it is not an amount with at most two decimals."""
    cleaned = (text or "").replace(",", "").strip()
    match = re.fullmatch(r"([0-9]{1,8})(?:\.([0-9]{1,2}))?", cleaned)
    if match is None:
        return None
    whole, fraction = match.group(1), (match.group(2) or "").ljust(2, "0")
    cents = int(whole) * 100 + int(fraction)
    return cents if cents <= controls.MAX_CREDIT_LIMIT_CENTS else None


class FaultForm(SandboxForm):
    endpoint = SelectField(_l("Endpoint"), validators=[DataRequired(message=_l("Choose an endpoint."))])
    latency_ms = WholeNumberField(
        _l("Added latency (ms)"),
        default=0,
        validators=[Optional(), between(0, controls.MAX_LATENCY_MS, _l("Added latency"))],
        invalid_message=_l("Enter the added latency in whole milliseconds."),
    )
    error_status = WholeNumberField(
        _l("Forced HTTP status"),
        validators=[Optional(), between(400, 599, _l("The forced status"))],
        invalid_message=_l("Enter an HTTP status such as 503."),
    )
    error_code = StringField(_l("Error code"), validators=[Optional(), Length(max=60)])
    fail_times = WholeNumberField(
        _l("Fail this many times, then recover"),
        validators=[Optional(), between(1, controls.MAX_FAIL_TIMES, _l("The number of calls"))],
        invalid_message=_l("Enter how many calls should fail, e.g. 2."),
        description=_l("Leave empty to fail until the rule is removed."),
    )
    drop_response = BooleanField(_l("Commit, then drop the response"))
    submit = SubmitField(_l("Add fault"))


class ClockForm(SandboxForm):
    minutes = WholeNumberField(
        _l("Advance by (minutes)"),
        default=5,
        validators=[
            InputRequired(message=_l("Enter how many minutes.")),
            between(1, controls.MAX_CLOCK_MINUTES, _l("Minutes")),
        ],
        invalid_message=_l("Enter how many minutes as a whole number."),
    )
    submit = SubmitField(_l("Advance clock"))


class PhoneForm(SandboxForm):
    """The phone's number picker: a GET form that changes nothing, so no CSRF token."""

    class Meta:
        csrf = False

    phone = SelectField(_l("Mobile number"), validate_choice=False)
    submit = SubmitField(_l("Show messages"))


STATUS_FILTERS = [
    ("", _l("Any status")),
    ("2xx", _l("2xx success")),
    ("4xx", _l("4xx client error")),
    ("5xx", _l("5xx server error")),
]


class RequestFilterForm(SandboxForm):
    """Filters of the request log (GET, changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=choices(STATUS_FILTERS), validate_choice=False)
    path = StringField(_l("Path contains"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Filter"))


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only (strptime's %Y takes full-width ones)
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)


class DayField(Field):
    """A calendar day typed or picked as YYYY-MM-DD, with a message that says what was wrong."""

    widget = DateInput()

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return self.data.isoformat() if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        self.data = None
        if not text:
            raise ValueError(_("Enter a date."))
        if not ISO_DATE.fullmatch(text):
            raise ValueError(_("Enter the date as YYYY-MM-DD, for example 2026-10-03."))
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_("%(text)s is not a date on the calendar.", text=text)) from None
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise ValueError(_("Choose a day between 2000 and 2099."))
        self.data = day


class InsightsRangeForm(SandboxForm):
    """The days the programme insights cover (GET, changes nothing, so a view of the figures is a link)."""

    class Meta:
        csrf = False

    start = DayField(_l("From"), description=_l("UTC day, YYYY-MM-DD"))
    end = DayField(_l("To (inclusive)"), description=_l("UTC day, YYYY-MM-DD"))
    submit = SubmitField(_l("Show"))

    def validate_end(self, field: DayField) -> None:
        if self.start.data is not None and field.data is not None and field.data < self.start.data:
            raise ValidationError(_("The last day must be on or after the first day."))
