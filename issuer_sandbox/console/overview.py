"""The console's home page: what the sandbox holds now, and the ledger health panel."""

from __future__ import annotations

from flask import Blueprint, render_template

from .. import clock, controls, inspection
from .auth import login_required

bp = Blueprint("console_overview", __name__)


@bp.get("/")
@login_required
def index():
    return render_template(
        "issuer/overview.html",
        counts=inspection.sandbox_counts(),
        health=controls.ledger_health(),
        clock_now=clock.now(),
        clock_offset=clock.offset_seconds(),
    )


@bp.get("/ledger")
@login_required
def ledger_health():
    return render_template("issuer/ledger.html", health=controls.ledger_health())
