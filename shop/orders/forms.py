"""Flask-WTF forms of cancelling a whole order or some of its items, and of checking again with the bank."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SubmitField
from wtforms.validators import InputRequired, NumberRange

from ..validation import ShopForm, WholeNumberField


class CancelOrderForm(ShopForm):
    submit = SubmitField(_l("Yes, cancel order"))


class CancelLineForm(ShopForm):
    quantity = WholeNumberField(
        _l("Quantity to cancel"),
        validators=[InputRequired(_l("Enter how many to cancel.")), NumberRange(min=1, message=_l("At least 1."))],
    )
    submit = SubmitField(_l("Yes, cancel these items"))


class CheckAgainForm(ShopForm):
    """Ask the bank again about a step it has not confirmed (a POST: settling it may record money moving)."""

    submit = SubmitField(_l("Check again"))
