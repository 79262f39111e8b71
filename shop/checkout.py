"""Checkout: delivery details, card payment, then Summit Bank's Pay with Points step inside the shop.

Thin views: parse the form, call the order or Pay with Points rules, flash what happened, redirect (POST-
redirect-GET). The card number and CVC pass through one request to the gateway and are never stored, logged or
put in the session.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from . import order_service, pwp
from .accounts import login_required
from .cart_service import clear_cart, current_cart
from .checkout_forms import (
    DeliveryForm,
    MobileForm,
    OtpForm,
    PaymentForm,
    PointsForm,
    ResendForm,
    RestartForm,
    SkipForm,
)
from .issuer_client import (
    AccountNotFound,
    InvalidOtp,
    IssuerError,
    IssuerUnavailable,
    MaxResendsExceeded,
    NotEligibleToRedeem,
    OtpDeliveryFailed,
    OtpExpired,
    OtpLocked,
    OtpResendTooSoon,
    RedemptionRejected,
    get_issuer_client,
)
from .models import Order
from .templating import money

bp = Blueprint("checkout", __name__, url_prefix="/checkout")

# The bank's resend cooldown: the page counts it down, the bank refuses anything sooner.
# SHOP_PWP_RESEND_COOLDOWN_SECONDS can shorten the countdown (browser tests that move the sandbox clock).
RESEND_COOLDOWN_SECONDS = 30


def decline_message(code: str) -> str:
    messages = {
        "insufficientCredit": _("Your card was declined: there is not enough credit available."),
        "cardFrozen": _("Your card was declined: the card is frozen. Contact your bank."),
        "expiredCard": _("Your card was declined: the card has expired."),
        "incorrectCvc": _("Your card was declined: the CVC is incorrect."),
        "invalidCardNumber": _("Your card was declined: the card number is not valid."),
    }
    return messages.get(code, _("Your card was declined.")) + " " + _("You have not been charged. Try another card.")


def issuer_message(error: IssuerError, order: Order | None = None) -> str:
    """What a shopper should read for each of the bank's answers in the points step."""
    if isinstance(error, InvalidOtp):
        left = error.attempts_remaining
        if left is None:
            return _("That code is not right. Check the SMS and try again.")
        return _("That code is not right. %(num)d attempts left.", num=left)
    if isinstance(error, OtpExpired):
        return _("That code has expired. Press “Resend code” for a new one.")
    if isinstance(error, OtpLocked):
        return _("Too many wrong codes: this code is locked. Send a new code to try again.")
    if isinstance(error, OtpResendTooSoon):
        return _("Please wait a few seconds before asking for another code.")
    if isinstance(error, MaxResendsExceeded):
        return _("No more codes can be sent for this attempt. Send a new code to start again.")
    if isinstance(error, AccountNotFound):
        last4 = order.card_last4 if order is not None else ""
        return _(
            "%(bank)s could not find a points card ending %(last4)s registered to that mobile number.",
            bank=_bank(),
            last4=last4,
        )
    if isinstance(error, NotEligibleToRedeem):
        return _("This card cannot use points right now. Your card payment is complete.")
    if isinstance(error, OtpDeliveryFailed):
        return _(
            "%(bank)s could not send an SMS to that number. Check the number, or skip points for now.", bank=_bank()
        )
    if isinstance(error, RedemptionRejected):
        return _(
            "%(bank)s could not redeem those points (%(code)s). Choose again or skip.", bank=_bank(), code=error.code
        )
    if isinstance(error, IssuerUnavailable):
        return unavailable_message()
    return _(
        "%(bank)s could not complete that step (%(code)s). Your card payment stands.", bank=_bank(), code=error.code
    )


def points_message(error: pwp.InvalidPoints) -> str:
    limit = f"{error.limit:,}"
    if error.reason == "below_minimum":
        return _("Use at least %(points)s points.", points=limit)
    if error.reason == "above_maximum":
        return _("You can use at most %(points)s points on this order.", points=limit)
    if error.reason == "increment":
        return _("Points are used in steps of %(points)s.", points=limit)
    return _("This order cannot use points.")


def unavailable_message() -> str:
    return _(
        "%(bank)s is not responding right now. Your card payment is complete; you can continue without points.",
        bank=_bank(),
    )


def _bank() -> str:
    return current_app.config["BANK_NAME"]


def _order(reference: str) -> Order:
    # The row lock (PostgreSQL) lasts only until a service ends the transaction before calling the bank:
    # a second tab is kept safe by the idempotent references and recorded intent, not by the lock.
    try:
        return order_service.get_order(g.user.id, reference, lock=True)
    except order_service.OrderNotFound:
        abort(404)


def _after_payment(order: Order):
    """Where a paid order goes next: the points step when the card can use points, else the confirmation."""
    if order.status == "PAID" and order.card_points_eligible and not order.points_skipped:
        return redirect(url_for("checkout.points", reference=order.reference))
    return redirect(url_for("orders.detail", reference=order.reference))


# --- Delivery -----------------------------------------------------------------------------------


@bp.route("", methods=["GET", "POST"])
@login_required
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
        delivery = order_service.Delivery(form.name.data, form.phone.data, form.address.data, form.district.data)
        try:
            order = order_service.create_order(g.user.id, cart, delivery, current_app.config["CURRENCY_CODE"])
        except order_service.OutOfStock as error:
            flash(_("Sorry, there is not enough stock for: %(names)s.", names=", ".join(error.names)), "error")
            return redirect(url_for("cart.view"))
        except order_service.EmptyCart:
            flash(_("Your cart is empty."), "info")
            return redirect(url_for("cart.view"))
        clear_cart()
        return redirect(url_for("checkout.payment", reference=order.reference))
    return render_template("shop/checkout/delivery.html", form=form, cart=cart, title=_("Delivery details"))


# --- Card payment -------------------------------------------------------------------------------


@bp.route("/<reference>/payment", methods=["GET", "POST"])
@login_required
def payment(reference: str):
    order = _order(reference)
    client = get_issuer_client()
    if order.payment_check_needed:
        order_service.resolve_payment(order, client)
    if order.status in order_service.PAID_STATUSES:
        # Refresh or back after paying: never a second charge.
        return _after_payment(order)
    if order.status == "CANCELLED":
        flash(_("This order was cancelled."), "info")
        return redirect(url_for("orders.detail", reference=order.reference))
    form = PaymentForm()
    if form.validate_on_submit():
        month, year = form.expiry_month_year
        card = order_service.CardDetails(form.card_number.data, month, year, form.cvc.data, form.holder_name.data)
        try:
            order_service.pay_order(order, card, client)
        except order_service.PaymentDeclined as error:
            flash(decline_message(error.code), "error")
            return redirect(url_for("checkout.payment", reference=reference))
        except order_service.PaymentUnavailable:
            flash(_("The card payment service is not available right now. You have not been charged."), "error")
            return redirect(url_for("checkout.payment", reference=reference))
        except order_service.PaymentOutcomeUnknown:
            flash(
                _(
                    "We could not confirm your payment yet. Please try again in a moment: "
                    "you will not be charged twice."
                ),
                "warning",
            )
            return redirect(url_for("checkout.payment", reference=reference))
        except order_service.PaymentFailed:
            flash(_("The card could not be charged. Check the details or try another card."), "error")
            return redirect(url_for("checkout.payment", reference=reference))
        except order_service.NotPayable:
            return _after_payment(order)
        flash(_("Payment received: %(last4)s charged.", last4=f"•••• {order.card_last4}"), "success")
        return _after_payment(order)
    return render_template("shop/checkout/payment.html", form=form, order=order, title=_("Payment"))


# --- Pay with Points ----------------------------------------------------------------------------


@bp.get("/<reference>/points")
@login_required
def points(reference: str):
    order = _order(reference)
    if order.status != "PAID" or not order.card_points_eligible:
        return redirect(url_for("orders.detail", reference=order.reference))
    return _points_page(order)


def _points_page(order: Order, *, mobile_form=None, otp_form=None, points_form=None, status: int = 200):
    """Render the bank's widget at the right step: mobile, code, or choose points."""
    step = pwp.show_offer(order)
    link = pwp.card_link(order)
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
            offer = pwp.points_offer(order, get_issuer_client())
        except pwp.PointsNotOffered:
            return redirect(url_for("orders.detail", reference=order.reference))
        except pwp.NoActiveLink:
            return redirect(url_for("checkout.points", reference=order.reference))
        except IssuerError:
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
    elapsed = (pwp.utcnow() - link.otp_sent_at).total_seconds()
    return max(int(cooldown - elapsed), 0)


def _points_order(reference: str) -> Order | None:
    order = _order(reference)
    if order.status != "PAID" or not order.card_points_eligible:
        return None
    return order


@bp.post("/<reference>/points/send-code")
@login_required
def send_code(reference: str):
    order = _points_order(reference)
    if order is None:
        return redirect(url_for("orders.detail", reference=reference))
    form = MobileForm()
    if not form.validate():
        return _points_page(order, mobile_form=form, status=422)
    try:
        link = pwp.send_code(order, form.phone.data, get_issuer_client())
    except IssuerError as error:
        flash(issuer_message(error, order), "error")
        return redirect(url_for("checkout.points", reference=reference))
    if link.status == "ACTIVE":
        flash(_("Your card is already linked."), "success")
    else:
        flash(_("We sent a code to %(phone)s.", phone=link.masked_phone), "info")
    return redirect(url_for("checkout.points", reference=reference))


@bp.post("/<reference>/points/resend")
@login_required
def resend_code(reference: str):
    order = _points_order(reference)
    if order is None or not ResendForm().validate():
        return redirect(url_for("checkout.points", reference=reference))
    try:
        link = pwp.resend_code(order, get_issuer_client())
    except pwp.NoActiveLink:
        return redirect(url_for("checkout.points", reference=reference))
    except IssuerError as error:
        flash(issuer_message(error), "error")
        return redirect(url_for("checkout.points", reference=reference))
    flash(_("We sent a new code to %(phone)s.", phone=link.masked_phone), "info")
    return redirect(url_for("checkout.points", reference=reference))


@bp.post("/<reference>/points/restart")
@login_required
def restart(reference: str):
    """Forget a pending or locked code so the shopper can send a new one (or use another number)."""
    order = _points_order(reference)
    if order is not None and RestartForm().validate():
        pwp.forget_unverified_link(order)
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
        pwp.verify_code(order, form.otp.data, get_issuer_client())
    except pwp.NoActiveLink:
        return redirect(url_for("checkout.points", reference=reference))
    except IssuerError as error:
        flash(issuer_message(error), "error")
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
    if form.use_max.data:
        # One tap: the server works out the maximum from the live balance, whatever the browser had.
        try:
            offer = pwp.points_offer(order, client)
        except pwp.PointsNotOffered:
            return redirect(url_for("orders.detail", reference=reference))  # another tab applied points
        except pwp.NoActiveLink:
            return redirect(url_for("checkout.points", reference=reference))
        except IssuerError as error:
            flash(issuer_message(error), "error")
            return redirect(url_for("checkout.points", reference=reference))
        chosen = offer.maximum
    elif valid:
        chosen = form.points.data
    else:
        return _points_page(order, points_form=form, status=422)
    try:
        order_service.apply_points(order, chosen, client)
    except pwp.PointsNotOffered:
        # Another tab (or a double click) applied points while this request waited on the bank.
        return redirect(url_for("orders.detail", reference=reference))
    except pwp.InvalidPoints as error:
        form.points.errors = [points_message(error)]
        return _points_page(order, points_form=form, status=422)
    except pwp.NoActiveLink:
        return redirect(url_for("checkout.points", reference=reference))
    except order_service.PointsOutcomeUnknown:
        flash(
            _(
                "We could not confirm your points with %(bank)s yet. Your card payment is complete; "
                "check this order again shortly: points are never taken twice.",
                bank=_bank(),
            ),
            "warning",
        )
        return redirect(url_for("orders.detail", reference=reference))
    except IssuerError as error:
        flash(issuer_message(error), "error")
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
        pwp.skip_points(order)
    return redirect(url_for("orders.detail", reference=reference))
