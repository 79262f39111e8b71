"""Flask-WTF forms of the bank's redemption site. Every one carries a CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from ..console.forms import WholeNumberField
from ..form_base import SandboxForm


class IdentifyForm(SandboxForm):
    last4 = StringField(
        _l("Last four digits of your card"),
        validators=[
            DataRequired(message=_l("Enter the last four digits of your card.")),
            Regexp(r"^[0-9]{4}$", message=_l("Enter the four digits at the end of your card number.")),
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )
    mobile = StringField(
        _l("Mobile number"),
        description=_l("The mobile number registered with your card, e.g. 9123 4567."),
        validators=[DataRequired(message=_l("Enter your mobile number.")), Length(max=20)],
    )
    submit = SubmitField(_l("Send me a code"))


class CodeForm(SandboxForm):
    code = StringField(
        _l("One-time password"),
        description=_l("The 6-digit code we sent to your mobile by SMS."),
        validators=[
            DataRequired(message=_l("Enter the 6-digit code from the SMS.")),
            Regexp(r"^[0-9]{6}$", message=_l("The code is 6 digits.")),
        ],
        filters=[lambda value: value.replace(" ", "") if isinstance(value, str) else value],
    )
    submit = SubmitField(_l("Sign in"))


class ActionForm(SandboxForm):
    """A button that changes something (send a new code, sign out): only the CSRF token."""

    submit = SubmitField()


class RedeemForm(SandboxForm):
    purchase = RadioField(_l("Purchase"), validators=[InputRequired(message=_l("Choose the purchase to credit."))])
    points = WholeNumberField(
        _l("Points to redeem"),
        validators=[InputRequired(message=_l("Enter how many points to redeem."))],
        invalid_message=_l("Enter the points as a whole number, e.g. 25000."),
    )
    submit = SubmitField(_l("Redeem points"))
