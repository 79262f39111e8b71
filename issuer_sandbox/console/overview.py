"""The console's home page: what the sandbox holds now, and the ledger health panel."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from .. import clock, controls
from ..extensions import db
from ..models import Card, FaultRule, RequestLogEntry, RewardLink, SmsMessage
from .auth import login_required

bp = Blueprint("console_overview", __name__)


def _count(model, *conditions) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0)


@bp.get("/")
@login_required
def index():
    counts = {
        "cards": _count(Card),
        "frozen": _count(Card, Card.status == controls.FROZEN),
        "active_links": _count(RewardLink, RewardLink.status == "ACTIVE"),
        "pending_links": _count(RewardLink, RewardLink.status == "PENDING_ACTIVATION"),
        "messages": _count(SmsMessage),
        "requests": _count(RequestLogEntry),
        "faults": _count(FaultRule),
    }
    return render_template(
        "issuer/overview.html",
        counts=counts,
        health=controls.ledger_health(),
        clock_now=clock.now(),
        clock_offset=clock.offset_seconds(),
    )


@bp.get("/ledger")
@login_required
def ledger_health():
    return render_template("issuer/ledger.html", health=controls.ledger_health())
