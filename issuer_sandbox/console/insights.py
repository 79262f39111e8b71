"""The console's programme insights: redemptions by channel and merchant, and each channel's uptake, for a range of
days (the last 60 on the sandbox clock unless the query string says otherwise), on the page and as CSV."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request

from .. import clock, programme_insights
from ..programme_insights import DayRange
from .auth import login_required
from .forms import InsightsRangeForm

bp = Blueprint("console_insights", __name__)


def _read_range() -> tuple[InsightsRangeForm, DayRange | None]:
    """The range from the query string (the default when it has none); None when it does not validate."""
    default = programme_insights.default_range(clock.now())
    form = InsightsRangeForm(formdata=request.args or None, start=default.first, end=default.last)
    if request.args and not form.validate():
        return form, None
    return form, DayRange(form.start.data, form.end.data)


@bp.get("/insights")
@login_required
def insights():
    form, day_range = _read_range()
    if day_range is None:
        # No figures for a range nobody asked for: the form with its errors.
        return render_template("issuer/insights.html", form=form, insights=None), 400
    return render_template("issuer/insights.html", form=form, insights=programme_insights.programme_insights(day_range))


@bp.get("/insights.csv")
@login_required
def insights_csv():
    form, day_range = _read_range()
    if day_range is None:
        return render_template("issuer/insights.html", form=form, insights=None), 400
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        programme_insights.csv_rows(programme_insights.programme_insights(day_range))
    )
    filename = f"programme-insights-{day_range.first.isoformat()}-to-{day_range.last.isoformat()}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
