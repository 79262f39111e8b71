"""The request log: every partner API and gateway call, newest first, filterable by status and path."""

from __future__ import annotations

import json
import re

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import inspection
from ..api.validation import ascii_whole_number
from ..request_log import writer as request_log_writer
from .auth import login_required
from .forms import STATUS_FILTERS, RequestFilterForm, choices

bp = Blueprint("console_requests", __name__)

PAGE_SIZE = 100


def pretty_body(body: str) -> str:
    """Indented JSON when the (already masked) body is JSON, the text as it is otherwise."""
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


_FAULT_PARTS = (
    (re.compile(r"^error (?P<status>\d+)(?: (?P<code>\w+))?$"), _l("error %(status)s %(code)s")),
    (re.compile(r"^latency (?P<ms>\d+) ms$"), _l("latency %(ms)s ms")),
    (re.compile(r"^drop after commit$"), _l("drop after commit")),
)


def fault_label(label: str) -> str:
    """The request log's stored fault label (faults.Fault.label, English) in the page's language."""
    shown = []
    for part in label.split(", "):
        for pattern, message in _FAULT_PARTS:
            found = pattern.match(part)
            if found:
                part = (str(message) % {key: value or "" for key, value in found.groupdict().items()}).strip()
                break
        shown.append(part)
    return _(", ").join(shown)


@bp.get("/requests")
@login_required
def request_log():
    request_log_writer(current_app).flush()  # this worker's own calls first (others' follow within a flush)
    form = RequestFilterForm(request.args)
    seen = inspection.logged_statuses()
    form.status.choices = choices(STATUS_FILTERS + [(str(code), _("Exactly %(status)s", status=code)) for code in seen])
    status = (form.status.data or "").strip()
    path = (form.path.data or "").strip()[:200]
    entries = inspection.request_log_entries(
        limit=PAGE_SIZE + 1,
        statuses=inspection.status_range(status),
        path_part=path,
        before_id=request.args.get("before", type=ascii_whole_number),
    )
    older = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
    return render_template(
        "issuer/requests.html",
        form=form,
        entries=entries[:PAGE_SIZE],
        older=older,
        status=status,
        path=path,
        pretty_body=pretty_body,
        fault_label=fault_label,
    )
