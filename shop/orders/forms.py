"""Flask-WTF forms of cancelling a whole order or some of its items, and of checking again with the bank."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SubmitField
from wtforms.validators import InputRequired, NumberRange


class CancelOrderForm(FlaskForm):
    submit = SubmitField(_l("Yes, cancel order"))


class CancelLineForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity to cancel"),
        validators=[InputRequired(_l("Enter how many to cancel.")), NumberRange(min=1, message=_l("At least 1."))],
    )
    submit = SubmitField(_l("Yes, cancel these items"))


class CheckAgainForm(FlaskForm):
    """Ask the bank again about a step it has not confirmed (a POST: settling it may record money moving)."""

    submit = SubmitField(_l("Check again"))
