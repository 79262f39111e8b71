"""Order confirmation, history, cancelling (whole orders or some items) and "Check again" with the bank."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..accounts.guards import login_required
from ..database import read_only
from ..issuer_client import get_issuer_client
from ..messages import shopper_message
from ..models import Order, OrderLine
from . import cancellation, reconciliation
from .bank_call import BankRefused
from .forms import CancelLineForm, CancelOrderForm, CheckAgainForm
from .rules import PAYABLE_STATUSES, OrderError, OrderNotFound, get_order, is_cancellable, order_history

bp = Blueprint("orders", __name__, url_prefix="/orders")

STATUS_LABELS = {
    "PENDING_PAYMENT": _l("Awaiting payment"),
    "PAYMENT_DECLINED": _l("Payment declined"),
    "PAID": _l("Paid"),
    "POINTS_APPLIED": _l("Paid with points"),
    "CANCELLED": _l("Cancelled"),
}


@bp.app_template_filter("order_status")
def order_status(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def _order(reference: str, lock: bool = False) -> Order:
    try:
        return get_order(g.user.id, reference, lock=lock)
    except OrderNotFound:
        abort(404)


@bp.get("")
@login_required
@read_only
def history():
    orders = order_history(g.user.id)
    return render_template("shop/orders/history.html", orders=orders, title=_("My orders"))


@bp.get("/<reference>")
@login_required
@read_only
def detail(reference: str):
    # Only reads: a step the bank has not confirmed is shown as such and settled by "Check again" (POST) or
    # `flask --app shop reconcile`, never by looking at the page.
    order = _order(reference)
    return render_template(
        "shop/orders/detail.html",
        order=order,
        cancellable=is_cancellable(order),
        waiting_on_bank=reconciliation.waits_on_bank(order),
        check_again_form=CheckAgainForm(),
        title=_("Order %(reference)s", reference=order.reference),
    )


@bp.post("/<reference>/check")
@login_required
def check_again(reference: str):
    """Ask the bank about every unconfirmed step of the order (payment, points, refund, points returned)."""
    order = _order(reference, lock=True)
    if not CheckAgainForm().validate():
        flash(_("Your session has expired. Please try again."), "error")
        return redirect(url_for("orders.detail", reference=reference))
    result = reconciliation.check_again(order, get_issuer_client())
    if result.still_unknown:
        flash(
            _("%(bank)s has not confirmed this yet. Nothing is lost; please check again in a moment.", bank=_bank()),
            "warning",
        )
    elif result.changes:
        flash(_("Confirmed with %(bank)s: your order is up to date.", bank=_bank()), "success")
    else:
        flash(_("Your order is up to date."), "info")
    if order.status in PAYABLE_STATUSES:
        return redirect(url_for("checkout.payment", reference=reference))
    return redirect(url_for("orders.detail", reference=reference))


def _bank() -> str:
    return current_app.config["BANK_NAME"]


@bp.route("/<reference>/cancel", methods=["GET", "POST"])
@login_required
def cancel(reference: str):
    order = _order(reference, lock=True)
    if not is_cancellable(order):
        flash(_("This order is already cancelled."), "info")
        return redirect(url_for("orders.detail", reference=reference))
    form = CancelOrderForm()
    if form.validate_on_submit():
        try:
            cancellation.cancel_order(order, get_issuer_client())
        except cancellation.CancellationPending as error:
            flash(shopper_message(error), "warning")
            return redirect(url_for("orders.detail", reference=reference))
        except (OrderError, BankRefused) as error:
            current_app.logger.warning("Cancelling order %s failed: %s", reference, error, exc_info=True)
            flash(_("We could not cancel this order right now. Nothing has changed; please try again."), "error")
            return redirect(url_for("orders.detail", reference=reference))
        flash(_("Order %(reference)s is cancelled.", reference=reference) + " " + _refund_note(order), "success")
        return redirect(url_for("orders.detail", reference=reference))
    return render_template("shop/orders/cancel.html", order=order, form=form, title=_("Cancel order"))


@bp.route("/<reference>/lines/<int:line_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel_line(reference: str, line_id: int):
    order = _order(reference, lock=True)
    line = next((line for line in order.lines if line.id == line_id), None)
    if line is None:
        abort(404)
    remaining = line.quantity - line.cancelled_quantity
    if not is_cancellable(order) or remaining <= 0:
        flash(_("These items cannot be cancelled."), "info")
        return redirect(url_for("orders.detail", reference=reference))
    form = CancelLineForm()
    if not form.is_submitted():
        form.quantity.data = remaining
    if form.validate_on_submit():
        if form.quantity.data > remaining:
            form.quantity.errors = [_("You can cancel at most %(num)d.", num=remaining)]
        else:
            try:
                cancellation.cancel_lines(order, {line.id: form.quantity.data}, get_issuer_client())
            except cancellation.CancellationPending as error:
                flash(shopper_message(error), "warning")
                return redirect(url_for("orders.detail", reference=reference))
            except (OrderError, BankRefused) as error:
                current_app.logger.warning("Cancelling items of %s failed: %s", reference, error, exc_info=True)
                flash(_("We could not cancel these items right now. Nothing has changed; please try again."), "error")
                return redirect(url_for("orders.detail", reference=reference))
            flash(_("Cancelled %(num)d × %(name)s.", num=form.quantity.data, name=line.product_name), "success")
            return redirect(url_for("orders.detail", reference=reference))
    return render_template(
        "shop/orders/cancel_line.html",
        order=order,
        line=line,
        remaining=remaining,
        form=form,
        title=_("Cancel items"),
    )


def _refund_note(order: Order) -> str:
    parts = []
    if order.refunded_cents:
        parts.append(_("Your card will be refunded."))
    if order.points_reversed:
        parts.append(_("Your points have been returned."))
    return " ".join(parts)


def line_remaining(line: OrderLine) -> int:
    return line.quantity - line.cancelled_quantity
