"""Cardholders and cards: the list, a card's points ledger and statement, and the card's controls."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from .. import clock, controls, ledger
from ..seed import format_card_number
from .auth import login_required
from .forms import ActionForm, AdjustPointsForm, CardholderForm, credit_limit_cents

bp = Blueprint("console_cards", __name__)


def _card_or_404(last4: str):
    try:
        return controls.find_card(last4)
    except controls.CardNotFound:
        abort(404)


@bp.get("/cards")
@login_required
def card_list():
    return render_template("issuer/cards.html", cards=controls.all_cards(), balances=controls.points_balances())


@bp.get("/cards/<last4>")
@login_required
def card_detail(last4: str):
    card = _card_or_404(last4)
    return _render_card(card, AdjustPointsForm())


def _render_card(card, adjust_form: AdjustPointsForm, status: int = 200):
    return (
        render_template(
            "issuer/card.html",
            card=card,
            balance=ledger.balance_of(card) if card.programme else None,
            ledger_lines=controls.card_ledger(card),
            statement_lines=controls.card_statement(card),
            adjust_form=adjust_form,
            action_form=ActionForm(),
        ),
        status,
    )


@bp.post("/cards/<last4>/freeze")
@login_required
def freeze(last4: str):
    return _set_status(last4, controls.FROZEN)


@bp.post("/cards/<last4>/unfreeze")
@login_required
def unfreeze(last4: str):
    return _set_status(last4, controls.ACTIVE)


def _set_status(last4: str, status: str):
    card = _card_or_404(last4)
    if ActionForm().validate_on_submit():
        controls.set_card_status(card, status)
        if status == controls.FROZEN:
            flash(_("Card ending %(last4)s is frozen.", last4=card.last4), "success")
        else:
            flash(_("Card ending %(last4)s is unfrozen.", last4=card.last4), "success")
    if request.args.get("back") == "controls":
        return redirect(url_for("console_controls.index") + "#card-controls-title")
    return redirect(url_for(".card_detail", last4=card.last4))


def signed(points: int) -> str:
    """A points change with its sign, grouped as the page's locale writes numbers: +5,000 / -5,000."""
    return format_decimal(points, format="+#,##0;-#,##0")


@bp.post("/cards/<last4>/points")
@login_required
def adjust_points(last4: str):
    card = _card_or_404(last4)
    form = AdjustPointsForm()
    if not form.validate_on_submit():
        flash(_("The points were not adjusted: correct the form below."), "error")
        return _render_card(card, form, 400)
    try:
        controls.adjust_points(card, form.delta.data, form.reason.data, clock.now())
    except (controls.InvalidControl, controls.PointsShortfall) as error:
        message = error.shown()
        form.delta.errors.append(message)
        flash(_("The points were not adjusted: %(reason)s", reason=message), "error")
        return _render_card(card, form, 422)
    flash(
        _("Adjusted card ending %(last4)s by %(points)s points.", last4=card.last4, points=signed(form.delta.data)),
        "success",
    )
    return redirect(url_for(".card_detail", last4=card.last4))


@bp.route("/cardholders/new", methods=["GET", "POST"])
@login_required
def new_cardholder():
    form = CardholderForm()
    if form.validate_on_submit():
        wanted = controls.NewCardholder(
            name=form.name.data,
            mobile=form.mobile.data,
            programme=form.programme.data or None,
            points=form.points.data,
            credit_limit_cents=credit_limit_cents(form.credit_limit.data) or 0,
        )
        try:
            card = controls.create_test_cardholder(wanted, clock.now())
        except controls.InvalidControl as error:
            form.form_errors.append(error.shown())
        else:
            flash(
                _(
                    "Created %(holder)s with card %(number)s (any future expiry, any 3-digit CVC).",
                    holder=card.cardholder.name,
                    number=format_card_number(card.number),
                ),
                "success",
            )
            return redirect(url_for(".card_detail", last4=card.last4))
    status = 400 if form.errors else 200
    return render_template("issuer/new_cardholder.html", form=form), status
