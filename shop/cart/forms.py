"""Flask-WTF forms of the cart: add a product, change a line's quantity, remove a line."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SubmitField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from ..validation import ShopForm, WholeNumberField
from .rules import MAX_QUANTITY_PER_LINE


class AddToCartForm(ShopForm):
    product_id = HiddenField(validators=[DataRequired()])
    quantity = WholeNumberField(
        _l("Quantity"),
        default=1,
        validators=[
            InputRequired(_l("Enter a quantity.")),
            NumberRange(
                min=1,
                max=MAX_QUANTITY_PER_LINE,
                message=_l("Choose between 1 and %(max)d.", max=MAX_QUANTITY_PER_LINE),
            ),
        ],
        render_kw={"min": 1, "max": MAX_QUANTITY_PER_LINE, "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Add to cart"))


class CartLineForm(ShopForm):
    """Change one line's quantity; 0 removes it."""

    quantity = WholeNumberField(
        _l("Quantity"),
        validators=[
            NumberRange(
                min=0,
                max=MAX_QUANTITY_PER_LINE,
                message=_l("Choose between 0 and %(max)d.", max=MAX_QUANTITY_PER_LINE),
            )
        ],
        render_kw={"min": 0, "max": MAX_QUANTITY_PER_LINE, "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Update"))


class RemoveFromCartForm(ShopForm):
    submit = SubmitField(_l("Remove"))
