"""The controls page: fault injection, the sandbox clock, reset to seed, and quick card controls."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from .. import clock, controls
from ..api.openapi import openapi_document
from .auth import login_required
from .forms import ActionForm, ClockForm, FaultForm, choices
from .reference import document_text

bp = Blueprint("console_controls", __name__)


def endpoint_choices() -> list[controls.FaultEndpoint]:
    return controls.faultable_endpoints(current_app.url_map.iter_rules())


def endpoint_label(endpoint: controls.FaultEndpoint, summaries: dict[tuple[str, str], str]) -> str:
    """What the call does, in the page's language, then how it is called: "兌換積分… — POST /gcb/api/…"."""
    summary = next(
        (
            summaries[(method, _shape(endpoint.path))]
            for method in endpoint.methods.split(",")
            if (method, _shape(endpoint.path)) in summaries
        ),
        "",
    )
    call = f"{endpoint.methods} {endpoint.path}"
    return _("%(summary)s — %(call)s", summary=document_text(summary), call=call) if summary else call


def _shape(path: str) -> str:
    """A path with its parameters blanked, so Flask's /x/<a_b> and OpenAPI's /x/{aB} compare equal."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def operation_summaries() -> dict[tuple[str, str], str]:
    """(METHOD, path shape) -> the OpenAPI summary of that operation."""
    found = {}
    for path, item in openapi_document().get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("summary"):
                found[(method.upper(), _shape(path))] = operation["summary"]
    return found


def shown_fault(rule) -> str:
    """controls.describe_fault in the page's language: "HTTP 503 serviceUnavailable；+1500 毫秒；之後 2 次呼叫"."""
    parts = []
    if rule.error_status is not None:
        parts.append(f"HTTP {rule.error_status} {rule.error_code or ''}".strip())
    if rule.drop_response_after_commit:
        parts.append(_("commit, then drop the response"))
    if rule.latency_ms:
        parts.append(_("+%(ms)s ms", ms=rule.latency_ms))
    if rule.remaining_failures is None:
        parts.append(_("until removed"))
    else:
        parts.append(ngettext("next %(num)s call", "next %(num)s calls", rule.remaining_failures))
    return _("; ").join(parts)


def _fault_form() -> FaultForm:
    form = FaultForm()
    summaries = operation_summaries()
    form.endpoint.choices = choices(
        [(endpoint.name, endpoint_label(endpoint, summaries)) for endpoint in endpoint_choices()]
    )
    return form


def _render(fault_form: FaultForm | None = None, clock_form: ClockForm | None = None, status: int = 200):
    calls = {endpoint.name: f"{endpoint.methods} {endpoint.path}" for endpoint in endpoint_choices()}
    return (
        render_template(
            "issuer/controls.html",
            fault_form=fault_form or _fault_form(),
            clock_form=clock_form or ClockForm(formdata=None),
            action_form=ActionForm(),
            faults=controls.list_faults(),
            endpoint_calls=calls,
            describe_fault=shown_fault,
            cards=controls.all_cards(),
            balances=controls.points_balances(),
            clock_now=clock.now(),
            clock_offset=clock.offset_seconds(),
        ),
        status,
    )


@bp.get("/controls")
@login_required
def index():
    return _render()


@bp.post("/controls/faults")
@login_required
def add_fault():
    form = _fault_form()
    if form.validate_on_submit():
        spec = controls.FaultSpec(
            endpoint=form.endpoint.data,
            latency_ms=form.latency_ms.data or 0,
            error_status=form.error_status.data,
            error_code=form.error_code.data or None,
            fail_times=form.fail_times.data,
            drop_response_after_commit=bool(form.drop_response.data),
        )
        try:
            rule = controls.create_fault(spec, [endpoint.name for endpoint in endpoint_choices()], clock.now())
        except controls.InvalidControl as error:
            form.form_errors.append(error.shown())
        else:
            flash(
                _(
                    "Fault added to %(endpoint)s: %(fault)s.",
                    endpoint=rule.endpoint,
                    fault=shown_fault(rule),
                ),
                "success",
            )
            return redirect(url_for(".index"))
    flash(_("The fault was not added: correct the form below."), "error")
    return _render(fault_form=form, status=400)


@bp.post("/controls/faults/<int:fault_id>/remove")
@login_required
def remove_fault(fault_id: int):
    if ActionForm().validate_on_submit():
        try:
            controls.delete_fault(fault_id)
        except controls.FaultNotFound:
            abort(404)
        flash(_("Fault rule %(id)s removed.", id=fault_id), "success")
    return redirect(url_for(".index"))


@bp.post("/controls/clock")
@login_required
def advance_clock():
    form = ClockForm()
    if form.validate_on_submit():
        try:
            offset = controls.advance_clock(form.minutes.data)
        except controls.InvalidControl as error:
            form.minutes.errors.append(error.shown())
        else:
            flash(
                _(
                    "Sandbox clock advanced by %(minutes)s min (now %(ahead)s min ahead).",
                    minutes=form.minutes.data,
                    ahead=offset // 60,
                ),
                "success",
            )
            return redirect(url_for(".index"))
    flash(_("The clock did not move: correct the form below."), "error")
    return _render(clock_form=form, status=400)


@bp.post("/controls/reset")
@login_required
def reset():
    if ActionForm().validate_on_submit():
        controls.reset_to_seed()
        flash(_("The sandbox is back in its seed state: test cards, points and partner; no links, messages or faults."))
    return redirect(url_for(".index"))
