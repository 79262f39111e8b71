"""Order confirmation, history and cancelling (whole orders or some items), with per-tender amounts."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import order_service
from .accounts import login_required
from .checkout_forms import CancelLineForm, CancelOrderForm
from .database import read_only
from .issuer_client import IssuerError, get_issuer_client
from .models import Order, OrderLine

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
        return order_service.get_order(g.user.id, reference, lock=lock)
    except order_service.OrderNotFound:
        abort(404)


def _cancellable(order: Order) -> bool:
    return order.status in order_service.PAID_STATUSES + order_service.PAYABLE_STATUSES


@bp.get("")
@login_required
@read_only
def history():
    orders = order_service.order_history(g.user.id)
    return render_template("shop/orders/history.html", orders=orders, title=_("My orders"))


@bp.get("/<reference>")
@login_required
def detail(reference: str):
    order = _order(reference, lock=True)
    if order.points_check_needed or order_service.points_due_back(order):
        # An earlier redemption or reversal was left unconfirmed: settle it now, quietly if the bank is away.
        try:
            order_service.reconcile_points(order, get_issuer_client())
            order_service.settle_points(order, get_issuer_client())
        except (IssuerError, order_service.OrderError):
            pass
    return render_template(
        "shop/orders/detail.html",
        order=order,
        cancellable=_cancellable(order),
        title=_("Order %(reference)s", reference=order.reference),
    )


@bp.route("/<reference>/cancel", methods=["GET", "POST"])
@login_required
def cancel(reference: str):
    order = _order(reference, lock=True)
    if not _cancellable(order):
        flash(_("This order is already cancelled."), "info")
        return redirect(url_for("orders.detail", reference=reference))
    form = CancelOrderForm()
    if form.validate_on_submit():
        try:
            order_service.cancel_order(order, get_issuer_client())
        except order_service.CancellationPending as error:
            flash(pending_message(error), "warning")
            return redirect(url_for("orders.detail", reference=reference))
        except (order_service.OrderError, IssuerError):
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
    if not _cancellable(order) or remaining <= 0:
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
                order_service.cancel_lines(order, {line.id: form.quantity.data}, get_issuer_client())
            except order_service.CancellationPending as error:
                flash(pending_message(error), "warning")
                return redirect(url_for("orders.detail", reference=reference))
            except (order_service.OrderError, IssuerError):
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


def pending_message(error: order_service.CancellationPending) -> str:
    if error.stage == "payment":
        return _("We are still confirming your payment with the bank; please try cancelling again in a moment.")
    if error.stage == "refund":
        return _("We could not confirm the refund yet; please try again in a moment. You will not be refunded twice.")
    return _("Your refund is done; the points are on their way back and will show here shortly.")


def _refund_note(order: Order) -> str:
    parts = []
    if order.refunded_cents:
        parts.append(_("Your card will be refunded."))
    if order.points_reversed:
        parts.append(_("Your points have been returned."))
    return " ".join(parts)


def line_remaining(line: OrderLine) -> int:
    return line.quantity - line.cancelled_quantity
