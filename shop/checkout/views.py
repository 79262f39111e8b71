"""Checkout: delivery details, card payment, then Summit Bank's Pay with Points step inside the shop.

Thin views: parse the form, call the order or Pay with Points rules, flash what happened, redirect (POST-
redirect-GET). The card number and CVC pass through one request to the gateway and are never stored, logged or
put in the session.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from ..accounts.guards import login_required
from ..cart.rules import clear_cart, current_cart
from ..database import read_only
from ..i18n import bank_language
from ..issuer_client import get_issuer_client
from ..messages import shopper_message
from ..models import Order
from ..orders.bank_call import BankRefused
from ..orders.forms import CheckAgainForm
from ..orders.rules import PAID_STATUSES, OrderNotFound, get_order, utcnow
from ..rate_limits import code_requests_per_order
from ..templating import money
from . import card_link, delivery
from . import payment as payment_rules
from . import points as points_rules
from .flow import current_flow
from .forms import (
    DeliveryForm,
    MobileForm,
    OtpForm,
    PaymentForm,
    PointsForm,
    ResendForm,
    RestartForm,
    SkipForm,
)
from .offer import InvalidPoints

bp = Blueprint("checkout", __name__, url_prefix="/checkout")

# The bank's resend cooldown: the page counts it down, the bank refuses anything sooner.
# SHOP_PWP_RESEND_COOLDOWN_SECONDS can shorten the countdown (browser tests that move the sandbox clock).
RESEND_COOLDOWN_SECONDS = 30


def _bank() -> str:
    return current_app.config["BANK_NAME"]


def _order(reference: str) -> Order:
    # The row lock (PostgreSQL) is let go while a rule waits on the bank and taken again to record the answer
    # (orders/bank_call.py): a second tab is kept safe by the idempotent references and recorded intent.
    try:
        return get_order(g.user.id, reference, lock=True)
    except OrderNotFound:
        abort(404)


def _after_payment(order: Order):
    """Where a paid order goes next: the points step when the card can use points, else the confirmation.

    In the legacy flow the shop offers nothing: the bank texts the cardholder its own offer after the payment.
    """
    if (
        order.status == "PAID"
        and order.card_points_eligible
        and order.offers_points_at_checkout
        and not order.points_skipped
    ):
        return redirect(url_for("checkout.points", reference=order.reference))
    return redirect(url_for("orders.detail", reference=order.reference))


# --- Delivery -----------------------------------------------------------------------------------


@bp.route("", methods=["GET", "POST"])
@login_required
@read_only  # the GET only shows the form; the POST (which creates the order) still takes the write lock
def start():
    cart = current_cart()
    if cart.is_empty:
        flash(_("Your cart is empty."), "info")
        return redirect(url_for("cart.view"))
    if cart.problems:
        flash(_("Some items in your cart need attention before checkout."), "warning")
        return redirect(url_for("cart.view"))
    form = DeliveryForm()
    if not form.is_submitted():
        form.name.data = g.user.name
        form.phone.data = g.user.phone
    if form.validate_on_submit():
        details = delivery.Delivery(form.name.data, form.phone.data, form.address.data, form.district.data)
        try:
            order = delivery.create_order(
                g.user.id, cart, details, current_app.config["CURRENCY_CODE"], pwp_flow=current_flow()
            )
        except delivery.OutOfStock as error:
            flash(shopper_message(error), "error")
            return redirect(url_for("cart.view"))
        except delivery.EmptyCart as error:
            flash(shopper_message(error), "info")
            return redirect(url_for("cart.view"))
        clear_cart()
        return redirect(url_for("checkout.payment", reference=order.reference))
    return render_template("shop/checkout/delivery.html", form=form, cart=cart, title=_("Delivery details"))


# --- Card payment -------------------------------------------------------------------------------


@bp.route("/<reference>/payment", methods=["GET", "POST"])
@login_required
@read_only  # the GET only shows the order and the card form; paying is a POST
def payment(reference: str):
    order = _order(reference)
    client = get_issuer_client()
    # No look-up here on a GET: an unconfirmed attempt is shown with "Check again" (orders.check_again); paying
    # again repeats that attempt's Idempotency-Key, so it cannot charge twice.
    if order.status in PAID_STATUSES:
        # Refresh or back after paying: never a second charge.
        return _after_payment(order)
    if order.status == "CANCELLED":
        flash(_("This order was cancelled."), "info")
        return redirect(url_for("orders.detail", reference=order.reference))
    form = PaymentForm()
    if form.validate_on_submit():
        month, year = form.expiry_month_year
        card = payment_rules.CardDetails(form.card_number.data, month, year, form.cvc.data, form.holder_name.data)
        try:
            payment_rules.pay_order(order, card, client)
        except payment_rules.NotPayable:
            return _after_payment(order)
        except payment_rules.PaymentOutcomeUnknown as error:
            flash(shopper_message(error), "warning")
            return redirect(url_for("checkout.payment", reference=reference))
        except (payment_rules.PaymentDeclined, payment_rules.PaymentUnavailable, payment_rules.PaymentFailed) as error:
            flash(shopper_message(error), "error")
            return redirect(url_for("checkout.payment", reference=reference))
        flash(_("Payment received: %(last4)s charged.", last4=f"•••• {order.card_last4}"), "success")
        return _after_payment(order)
    return render_template(
        "shop/checkout/payment.html", form=form, order=order, check_again_form=CheckAgainForm(), title=_("Payment")
    )


# --- Pay with Points ----------------------------------------------------------------------------


@bp.get("/<reference>/points")
@login_required
def points(reference: str):
    order = _order(reference)
    if order.status != "PAID" or not order.offers_points_at_checkout or not order.card_points_eligible:
        return redirect(url_for("orders.detail", reference=order.reference))
    if order.points_check_needed:
        # An unconfirmed redemption is shown (with "Check again") on the order page, never offered twice.
        return redirect(url_for("orders.detail", reference=order.reference))
    return _points_page(order)


def _points_page(order: Order, *, mobile_form=None, otp_form=None, points_form=None, status: int = 200):
    """Render the bank's widget at the right step: mobile, code, or choose points."""
    link = card_link.card_link(order)
    step = points_rules.show_offer(order, link)
    context = {
        "order": order,
        "bank_name": _bank(),
        "skip_form": SkipForm(),
        "title": _("Pay with Points"),
        "offer": None,
        "unavailable": False,
        "link": link,
    }
    if step == "enrol" and link is not None:
        step = "otp"
        context["otp_form"] = otp_form or OtpForm(formdata=None)
        context["resend_form"] = ResendForm(formdata=None)
        context["restart_form"] = RestartForm(formdata=None)
        context["cooldown"] = _cooldown_left(link)
    elif step == "enrol":
        form = mobile_form or MobileForm(formdata=None)
        if mobile_form is None:
            form.phone.data = order.recipient_phone or g.user.phone
        context["mobile_form"] = form
    else:
        try:
            offer = points_rules.points_offer(order, get_issuer_client(), link)
        except card_link.PointsNotOffered:
            return redirect(url_for("orders.detail", reference=order.reference))
        except card_link.NoActiveLink:
            return redirect(url_for("checkout.points", reference=order.reference))
        except BankRefused as error:
            current_app.logger.warning("Points balance for %s unavailable: %s", order.reference, error, exc_info=True)
            context["unavailable"] = True
            offer = None
        context["offer"] = offer
        if offer is not None:
            form = points_form or PointsForm(formdata=None)
            if points_form is None:
                form.points.data = offer.maximum if offer.eligible else 0
            context["points_form"] = form
    context["step"] = step
    return render_template("shop/checkout/points.html", **context), status


def _cooldown_left(link) -> int:
    if link.otp_sent_at is None:
        return 0
    cooldown = int(current_app.config.get("PWP_RESEND_COOLDOWN_SECONDS", RESEND_COOLDOWN_SECONDS))
    elapsed = (utcnow() - link.otp_sent_at).total_seconds()
    return max(int(cooldown - elapsed), 0)


def _points_order(reference: str) -> Order | None:
    order = _order(reference)
    if order.status != "PAID" or not order.card_points_eligible or not order.offers_points_at_checkout:
        return None
    return order


@bp.post("/<reference>/points/send-code")
@code_requests_per_order  # every SMS the shopper asks for, with "resend" below; then 429 with Retry-After
@login_required
def send_code(reference: str):
    order = _points_order(reference)
    if order is None:
        return redirect(url_for("orders.detail", reference=reference))
    form = MobileForm()
    if not form.validate():
        return _points_page(order, mobile_form=form, status=422)
    try:
        link = card_link.send_code(order, form.phone.data, get_issuer_client(), bank_language())
    except BankRefused as error:
        flash(shopper_message(error, order.card_last4 or ""), "error")
        return redirect(url_for("checkout.points", reference=reference))
    if link.status == "ACTIVE":
        flash(_("Your card is already linked."), "success")
    else:
        flash(_("We sent a code to %(phone)s.", phone=link.masked_phone), "info")
    return redirect(url_for("checkout.points", reference=reference))


@bp.post("/<reference>/points/resend")
@code_requests_per_order
@login_required
def resend_code(reference: str):
    order = _points_order(reference)
    if order is None or not ResendForm().validate():
        return redirect(url_for("checkout.points", reference=reference))
    try:
        link = card_link.resend_code(order, get_issuer_client(), bank_language())
    except card_link.NoActiveLink:
        return redirect(url_for("checkout.points", reference=reference))
    except BankRefused as error:
        flash(shopper_message(error), "error")
        return redirect(url_for("checkout.points", reference=reference))
    flash(_("We sent a new code to %(phone)s.", phone=link.masked_phone), "info")
    return redirect(url_for("checkout.points", reference=reference))


@bp.post("/<reference>/points/restart")
@login_required
def restart(reference: str):
    """Forget a pending or locked code so the shopper can send a new one (or use another number)."""
    order = _points_order(reference)
    if order is not None and RestartForm().validate():
        card_link.forget_unverified_link(order)
    return redirect(url_for("checkout.points", reference=reference))


@bp.post("/<reference>/points/verify")
@login_required
def verify_code(reference: str):
    order = _points_order(reference)
    if order is None:
        return redirect(url_for("orders.detail", reference=reference))
    form = OtpForm()
    if not form.validate():
        return _points_page(order, otp_form=form, status=422)
    try:
        card_link.verify_code(order, form.otp.data, get_issuer_client())
    except card_link.NoActiveLink:
        return redirect(url_for("checkout.points", reference=reference))
    except BankRefused as error:
        flash(shopper_message(error), "error")
        return redirect(url_for("checkout.points", reference=reference))
    flash(_("Card verified. Choose how many points to use."), "success")
    return redirect(url_for("checkout.points", reference=reference))


@bp.post("/<reference>/points/redeem")
@login_required
def redeem(reference: str):
    order = _points_order(reference)
    if order is None:
        return redirect(url_for("orders.detail", reference=reference))
    form = PointsForm()
    client = get_issuer_client()
    valid = form.validate()
    if "csrf_token" in form.errors:
        flash(_("Your session has expired. Please try again."), "error")
        return redirect(url_for("checkout.points", reference=reference))
    if not form.use_max.data and not valid:
        return _points_page(order, points_form=form, status=422)
    try:
        # "Use the most": the server works out the maximum from the live balance, whatever the browser had.
        chosen = points_rules.points_offer(order, client).maximum if form.use_max.data else form.points.data
        points_rules.apply_points(order, chosen, client)
    except card_link.PointsNotOffered:
        # Another tab (or a double click) applied points while this request waited on the bank.
        return redirect(url_for("orders.detail", reference=reference))
    except InvalidPoints as error:
        form.points.errors = [shopper_message(error)]
        return _points_page(order, points_form=form, status=422)
    except card_link.NoActiveLink:
        return redirect(url_for("checkout.points", reference=reference))
    except points_rules.PointsOutcomeUnknown as error:
        flash(shopper_message(error), "warning")
        return redirect(url_for("orders.detail", reference=reference))
    except BankRefused as error:
        flash(shopper_message(error), "error")
        return redirect(url_for("checkout.points", reference=reference))
    flash(
        _(
            "%(points)s points used: a statement credit of %(credit)s will appear on your card.",
            points=f"{order.points_used:,}",
            credit=money(order.statement_credit_cents),
        ),
        "success",
    )
    return redirect(url_for("orders.detail", reference=reference))


@bp.post("/<reference>/points/skip")
@login_required
def skip(reference: str):
    order = _order(reference)
    if SkipForm().validate() and order.status == "PAID":
        points_rules.skip_points(order)
    return redirect(url_for("orders.detail", reference=reference))
