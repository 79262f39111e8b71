"""The request log: every partner API and gateway call, newest first, filterable by status and path."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request

from ..console_forms import STATUS_FILTERS, RequestFilterForm, choices
from ..extensions import db
from ..models import RequestLogEntry
from ..request_log import writer as request_log_writer
from .auth import login_required

bp = Blueprint("console_requests", __name__)

PAGE_SIZE = 100


def status_condition(status: str):
    """'4xx' -> 400..499; '404' -> exactly 404; anything else -> no filter."""
    if re.fullmatch(r"[1-5]xx", status):
        low = int(status[0]) * 100
        return RequestLogEntry.status.between(low, low + 99)
    if re.fullmatch(r"[1-5]\d\d", status):
        return RequestLogEntry.status == int(status)
    return None


def pretty_body(body: str) -> str:
    """Indented JSON when the (already masked) body is JSON, the text as it is otherwise."""
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


@bp.get("/requests")
@login_required
def request_log():
    request_log_writer(current_app).flush()  # this worker's own calls first (others' follow within a flush)
    form = RequestFilterForm(request.args)
    seen = db.session.scalars(sa.select(RequestLogEntry.status).distinct().order_by(RequestLogEntry.status))
    form.status.choices = choices(STATUS_FILTERS + [(str(code), f"Exactly {code}") for code in seen])
    query = sa.select(RequestLogEntry).order_by(RequestLogEntry.id.desc())
    status = (form.status.data or "").strip()
    condition = status_condition(status)
    if condition is not None:
        query = query.where(condition)
    path = (form.path.data or "").strip()[:200]
    if path:
        escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(RequestLogEntry.path.like(f"%{escaped}%", escape="\\"))
    before = request.args.get("before", type=int)
    if before:
        query = query.where(RequestLogEntry.id < before)
    entries = list(db.session.scalars(query.limit(PAGE_SIZE + 1)))
    older = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
    return render_template(
        "issuer/requests.html",
        form=form,
        entries=entries[:PAGE_SIZE],
        older=older,
        status=status,
        path=path,
        pretty_body=pretty_body,
    )
