"""Merchant insights for shop staff (/insights): uptake, the funnel, two charts, CSV exports; and the flow switch.

Thin views: read the filter form, ask queries.py, render. Only the flow switch is open to every session: it
changes nothing but the caller's own session (the simulate command's shoppers use it too).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..accounts.guards import login_required, safe_next
from ..checkout.flow import FLOWS, choose_flow, current_flow, default_flow
from ..database import read_only
from ..errors import _error_page
from ..orders.rules import utcnow
from . import charts, queries
from .export import journeys_csv_rows, kpi_csv_rows
from .forms import FlowForm, InsightsFilterForm

bp = Blueprint("insights", __name__, url_prefix="/insights")

STEP_LABELS = {
    "paid": _l("Paid with an eligible card"),
    "offer_shown": _l("Offer shown"),
    "code_sent": _l("Code sent"),
    "linked": _l("Verified (or already linked)"),
    "points_redeemed": _l("Points redeemed"),
}


@bp.app_template_filter("duration")
def duration(seconds: int | None) -> str:
    """Seconds as '45 s', '2 min 05 s' or '1 h 02 min'; a dash when there is nothing to time."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("%(seconds)d s", seconds=seconds)
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)02d s", minutes=minutes, seconds=rest)
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)


F = TypeVar("F", bound=Callable[..., Any])


def staff_required(view: F) -> F:
    """Signed-out visitors go to sign in; signed-in shoppers who are not staff get a friendly 403 page."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any):
        if not g.user.is_staff:
            return _error_page(
                403,
                _("Insights are for shop staff"),
                _("This page shows the shop's Pay with Points figures and is open to staff accounts only."),
            )
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _read_filter() -> tuple[InsightsFilterForm, queries.InsightsFilter | None]:
    """The filter from the query string (the last 60 days when empty); None when it does not validate."""
    default = queries.default_filter(utcnow())
    form = InsightsFilterForm(
        formdata=request.args if request.args else None, start=default.start, end=default.end, flow="all"
    )
    if request.args and not form.validate():
        return form, None
    selected = queries.InsightsFilter(
        start=form.start.data, end=form.end.data, flow=form.flow.data, hide_simulated=bool(form.hide_simulated.data)
    )
    return form, selected


def _flow_form() -> FlowForm:
    form = FlowForm(formdata=None, flow=current_flow())
    form.next.data = request.full_path.rstrip("?")
    return form


def _filter_args(selected: queries.InsightsFilter) -> dict[str, str]:
    """The query string that shows ``selected`` again (the CSV links carry it)."""
    args = {"start": selected.start.isoformat(), "end": selected.end.isoformat(), "flow": selected.flow}
    if selected.hide_simulated:
        args["hide_simulated"] = "y"
    return args


def _page_context(form: InsightsFilterForm) -> dict[str, Any]:
    return {
        "form": form,
        "flow_form": _flow_form(),
        "current_flow": current_flow(),
        "default_flow": default_flow(),
        "title": _("Pay with Points insights"),
        "step_labels": STEP_LABELS,
    }


def _invalid_filter_page(form: InsightsFilterForm):
    """The page with the filter's errors and no figures, so nobody reads figures for a range they did not ask."""
    return render_template("shop/insights/index.html", report=None, **_page_context(form)), 400


@bp.get("")
@staff_required
@read_only
def index():
    form, selected = _read_filter()
    context = _page_context(form)
    if selected is None:
        return _invalid_filter_page(form)
    report = queries.insights(selected)
    return render_template(
        "shop/insights/index.html",
        report=report,
        uptake_chart=charts.uptake_chart(report.days, selected.start, selected.end),
        funnel_chart=charts.funnel_chart(report.funnel),
        filter_args=_filter_args(selected),
        **context,
    )


def _csv_response(rows: list[list[str]], name: str, selected: queries.InsightsFilter) -> Response:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    filename = f"{name}-{selected.start.isoformat()}-to-{selected.end.isoformat()}-{selected.flow}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv_export(build: Callable[[queries.InsightsFilter], list[list[str]]], name: str):
    form, selected = _read_filter()
    if selected is None:
        return _invalid_filter_page(form)
    return _csv_response(build(selected), name, selected)


@bp.get("/kpis.csv")
@staff_required
@read_only
def kpis_csv():
    return _csv_export(lambda selected: kpi_csv_rows(queries.insights(selected)), "pwp-kpis")


@bp.get("/journeys.csv")
@staff_required
@read_only
def journeys_csv():
    return _csv_export(journeys_csv_rows, "pwp-journeys")


@bp.post("/flow")
def switch_flow():
    """Set this browser session's flow (CSRF-protected; any session may, it only changes its own)."""
    form = FlowForm()
    user = g.get("user")
    fallback = url_for("insights.index") if user is not None and user.is_staff else url_for("catalog.home")
    target = safe_next(form.next.data, fallback)
    if not form.validate_on_submit():
        flash(_("Choose the native or the legacy flow."), "error")
        return redirect(target)
    choose_flow(form.flow.data)
    label = _("native") if form.flow.data == FLOWS[0] else _("legacy")
    flash(_("This browser now sees the %(flow)s Pay with Points flow.", flow=label), "success")
    return redirect(target)
