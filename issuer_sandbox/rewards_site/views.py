"""The bank's redemption site: identify, verify the SMS code, pick a purchase and the points, see the credit.

Thin views: they validate a form, call the site's rules (``rules``, ``redemptions``) and render or flash then
redirect; they never touch the database session. The visit's link code lives in the signed session cookie, and
a signed-in visit lasts SESSION_MINUTES of real time.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import clock, i18n, links, otp, redemptions, statement
from ..api.error_details import localized_details
from ..errors import RuleError
from ..models import Card
from . import rules
from .forms import ActionForm, CodeForm, IdentifyForm, RedeemForm

bp = Blueprint("rewards_site", __name__, url_prefix="/rewards")

LINK = "rewards_site_link"  # the visit's link code
SINCE = "rewards_site_since"  # when it was signed in (real time)
PURCHASE = "rewards_site_purchase"  # the purchase the SMS pointed at, chosen by default
SESSION_MINUTES = 15

# What the site says for each refusal: the rule's own message where it already speaks to a cardholder.
_MESSAGES: dict[type[RuleError], LazyString] = {
    links.InvalidPhoneNumber: _l("Enter your 8-digit Hong Kong mobile number, e.g. 9123 4567."),
    links.AccountNotFound: _l("No Summit Bank card matches those last four digits and mobile number. Check both."),
    links.NotEligibleToRedeem: _l("This card cannot redeem points (it is frozen or not in a points programme)."),
    links.OtpDeliveryFailed: _l("We could not send an SMS to your card's registered mobile. Call us to update it."),
    otp.OtpExpired: _l("That code has expired. Ask for a new code below."),
    redemptions.PurchaseAlreadyRedeemed: _l("Points were already redeemed against that purchase."),
    redemptions.PurchaseNotRedeemable: _l("That purchase cannot take points here. Pick one from the list."),
    redemptions.InsufficientPointBalance: _l("You do not have that many points."),
}


def _message(error: RuleError) -> str:
    for cls, text in _MESSAGES.items():
        if isinstance(error, cls):
            return str(text)
    if isinstance(error, otp.OtpInvalid):
        return _("That code is not right. %(attempts)s attempt(s) left.", attempts=error.attempts_remaining)
    if isinstance(error, links.OtpRequestLimitExceeded | otp.ResendTooSoon):
        return _("Too many codes were requested. Try again in %(seconds)s seconds.", seconds=error.retry_after_seconds)
    return localized_details(error.code, error.details)


def _policy() -> otp.OtpPolicy:
    return otp.OtpPolicy.from_config(current_app.config)


def _bank() -> str:
    return current_app.config["BANK_NAME"]


def _forget_visit() -> None:
    for key in (LINK, SINCE, PURCHASE):
        session.pop(key, None)


def _signed_in_card() -> Card | None:
    """The card of this visit, while its sign-in is fresh; None sends the visitor back to identify."""
    code, since = session.get(LINK), session.get(SINCE)
    if not code or not isinstance(since, int | float):
        return None
    if time.time() - since > SESSION_MINUTES * 60:
        _forget_visit()
        flash(_("You were signed out after 15 minutes. Sign in again to continue."), "warning")
        return None
    return rules.signed_in_card(code)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # purchases, points and mobile numbers: never cached
    return response


@bp.route("/", methods=["GET", "POST"])
def identify():
    if request.args.get("purchase"):
        session[PURCHASE] = request.args["purchase"][:40]
    if _signed_in_card() is not None:
        return redirect(url_for("rewards_site.purchases"))
    form = IdentifyForm()
    if form.validate_on_submit():
        try:
            link = rules.start_sign_in(
                form.last4.data, form.mobile.data, clock.now(), _policy(), _bank(), i18n.current_locale()
            )
        except RuleError as error:
            form.form_errors.append(_message(error))
        else:
            session[LINK] = link.code
            session.pop(SINCE, None)
            return redirect(url_for("rewards_site.verify"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("issuer/rewards/identify.html", form=form, title=_("Sign in")), status


def _pending_link():
    code = session.get(LINK)
    link = rules.site_link(code) if code else None
    return link if link is not None and link.status == links.PENDING else None


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    link = _pending_link()
    if link is None:
        return redirect(url_for("rewards_site.identify"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            rules.verify_code(link, form.code.data, clock.now(), _policy())
        except (otp.MaxAttemptsExceeded, links.LinkLocked):
            _forget_visit()
            flash(_("Too many wrong codes: that sign-in is locked. Start again for a new code."), "error")
            return redirect(url_for("rewards_site.identify"))
        except RuleError as error:
            form.code.errors = [_message(error)]
        else:
            session[SINCE] = time.time()
            return redirect(url_for("rewards_site.purchases"))
    status = 422 if form.errors else 200
    context = {"form": form, "resend_form": ActionForm(), "masked_phone": links.mask_phone(link.card.cardholder.phone)}
    return render_template("issuer/rewards/verify.html", title=_("Enter your code"), **context), status


@bp.post("/verify/resend")
def resend():
    link = _pending_link()
    if link is None:
        return redirect(url_for("rewards_site.identify"))
    if ActionForm().validate_on_submit():
        try:
            rules.resend_code(link, clock.now(), _policy(), _bank(), i18n.current_locale())
        except RuleError as error:
            flash(_message(error), "error")
        else:
            flash(_("We sent you a new code. The previous one no longer works."), "success")
    return redirect(url_for("rewards_site.verify"))


def _purchases_page(card: Card, form: RedeemForm, status: int = 200):
    now = clock.now()
    purchases = redemptions.redeemable_purchases(card.id, now)
    form.purchase.choices = [(purchase.payment_id, purchase.payment_id) for purchase in purchases]
    if form.purchase.data is None and purchases:
        offered = session.get(PURCHASE)
        form.purchase.data = offered if offered in {p.payment_id for p in purchases} else purchases[0].payment_id
    balance = rules.points_balance(session[LINK])
    context = {
        "card": card,
        "purchases": purchases,
        "balance": balance,
        "form": form,
        "sign_out_form": ActionForm(),
        "title": _("Your purchases"),
    }
    return render_template("issuer/rewards/purchases.html", **context), status


@bp.route("/purchases", methods=["GET", "POST"])
def purchases():
    card = _signed_in_card()
    if card is None:
        return redirect(url_for("rewards_site.identify"))
    form = RedeemForm()
    if request.method == "GET":
        return _purchases_page(card, form)
    now = clock.now()
    form.purchase.choices = [(p.payment_id, p.payment_id) for p in redemptions.redeemable_purchases(card.id, now)]
    form.purchase.validate_choice = False  # a purchase no longer listed gets the rules' clearer message
    if not form.validate_on_submit():
        return _purchases_page(card, form, 422)
    try:
        done = rules.redeem(session[LINK], form.purchase.data, form.points.data, now)
    except RuleError as error:
        form.form_errors.append(_message(error))
        return _purchases_page(card, form, 422)
    session.pop(PURCHASE, None)
    return redirect(url_for("rewards_site.redeemed", order_id=done.order_id))


@bp.get("/redeemed/<order_id>")
def redeemed(order_id: str):
    card = _signed_in_card()
    if card is None:
        return redirect(url_for("rewards_site.identify"))
    redemption = redemptions.site_redemption(card.id, order_id)
    if redemption is None:
        flash(_("There is no such redemption on this card."), "error")
        return redirect(url_for("rewards_site.purchases"))
    context = {
        "card": card,
        "redemption": redemption,
        "statement_lines": statement.lines_for(card)[-8:][::-1],
        "sign_out_form": ActionForm(),
        "title": _("Points redeemed"),
    }
    return render_template("issuer/rewards/redeemed.html", **context)


@bp.post("/sign-out")
def sign_out():
    code = session.get(LINK)
    if ActionForm().validate_on_submit() and code:
        rules.sign_out(code, clock.now())
    _forget_visit()
    flash(_("You are signed out."), "success")
    return redirect(url_for("rewards_site.identify"))
