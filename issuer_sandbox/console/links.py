"""Merchant links: each merchant customer's active, pending and locked links to cards, with unlink."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import clock, controls
from .auth import login_required
from .forms import ActionForm

bp = Blueprint("console_links", __name__)

STATUSES = ("ACTIVE", "PENDING_ACTIVATION", "LOCKED", "UNLINKED")


@bp.get("/links")
@login_required
def link_list():
    status = request.args.get("status") or ""
    if status and status not in STATUSES:
        status = ""
    links = controls.list_links(status or None)
    groups = [
        (key, list(items))
        for key, items in groupby(
            links, key=lambda link: (link.partner_client.merchant_name, link.merchant_customer_reference)
        )
    ]
    return render_template(
        "issuer/links.html", groups=groups, status=status, statuses=STATUSES, action_form=ActionForm()
    )


@bp.post("/links/<int:link_id>/unlink")
@login_required
def unlink(link_id: int):
    if ActionForm().validate_on_submit():
        try:
            link = controls.unlink(link_id, clock.now())
        except controls.LinkNotFound:
            abort(404)
        except controls.InvalidControl as error:
            flash(error.shown(), "error")
        else:
            flash(
                _(
                    "Unlinked %(customer)s from card ending %(last4)s: the shopper must verify again with a new code.",
                    customer=link.merchant_customer_reference,
                    last4=link.card.last4,
                ),
                "success",
            )
    return redirect(url_for(".link_list"))
