"""The cart page: add, change quantities, remove; stock problems are shown and block checkout."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..accounts.guards import safe_next
from ..database import read_only
from ..i18n import local_name
from ..messages import shopper_message
from . import rules as cart_rules
from .forms import AddToCartForm, CartLineForm, RemoveFromCartForm

bp = Blueprint("cart", __name__, url_prefix="/cart")


@bp.get("")
@read_only
def view():
    cart = cart_rules.current_cart()
    line_forms = {
        line.product.id: (CartLineForm(formdata=None, quantity=line.quantity), RemoveFromCartForm(formdata=None))
        for line in cart.lines
    }
    return render_template("shop/cart.html", cart=cart, line_forms=line_forms, title=_("Your cart"))


@bp.post("/add")
def add():
    form = AddToCartForm()
    back = safe_next(request.form.get("next"), url_for("cart.view"))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(back)
    try:
        product_id = int(form.product_id.data)
    except (TypeError, ValueError):
        flash(_("That product is no longer available."), "error")
        return redirect(url_for("catalog.home"))
    try:
        line = cart_rules.add_to_cart(product_id, form.quantity.data)
    except cart_rules.CartError as error:
        flash(shopper_message(error), "error")
        return redirect(back)
    flash(
        _("Added %(quantity)d × %(name)s to your cart.", quantity=form.quantity.data, name=local_name(line.product)),
        "success",
    )
    return redirect(url_for("cart.view"))


@bp.post("/update/<int:product_id>")
def update(product_id: int):
    form = CartLineForm()
    if not form.validate_on_submit() or form.quantity.data is None:
        message = form.quantity.errors[0] if form.quantity.errors else _("Enter a quantity.")
        flash(str(message), "error")
        return redirect(url_for("cart.view"))
    try:
        cart_rules.update_quantity(product_id, form.quantity.data)
    except cart_rules.CartError as error:
        flash(shopper_message(error), "error")
    else:
        flash(_("Removed from your cart.") if form.quantity.data == 0 else _("Quantity updated."), "success")
    return redirect(url_for("cart.view"))


@bp.post("/remove/<int:product_id>")
def remove(product_id: int):
    if RemoveFromCartForm().validate_on_submit():
        cart_rules.remove_from_cart(product_id)
        flash(_("Removed from your cart."), "success")
    return redirect(url_for("cart.view"))
