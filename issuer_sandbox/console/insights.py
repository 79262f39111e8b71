"""The console's programme insights: redemptions by channel and merchant, and each channel's uptake."""

from __future__ import annotations

from flask import Blueprint, render_template

from .. import programme_insights
from .auth import login_required

bp = Blueprint("console_insights", __name__)


@bp.get("/insights")
@login_required
def insights():
    return render_template("issuer/insights.html", insights=programme_insights.programme_insights())
