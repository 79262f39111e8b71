"""Console sign-in: one shared password, compared in constant time, and a session that expires when idle."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..rate_limits import failed_console_sign_ins
from .forms import ActionForm, LoginForm

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("console_auth", __name__)

SIGNED_IN = "console_signed_in"
LAST_SEEN = "console_last_seen"  # real time (not the sandbox clock, which testers move)


def _session_seconds() -> int:
    return int(current_app.config["CONSOLE_SESSION_MINUTES"]) * 60


def console_session_state(touch: bool = True) -> str:
    """'signed_in', 'expired' or 'signed_out'; with ``touch``, a live session's idle timer restarts."""
    if not session.get(SIGNED_IN):
        return "signed_out"
    last_seen = session.get(LAST_SEEN)
    now = time.time()
    if not isinstance(last_seen, int | float) or now - last_seen > _session_seconds():
        session.clear()
        return "expired"
    if touch:
        session[LAST_SEEN] = now
    return "signed_in"


def login_required(view: F) -> F:
    """Console pages: send anyone not signed in (or idle too long) to the sign-in page, then back."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        state = console_session_state()
        if state != "signed_in":
            if state == "expired":
                flash(_("Your console session expired. Sign in again."), "warning")
            return redirect(url_for("console_auth.login", next=request.full_path.rstrip("?")))
        g.console_signed_in = True
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def login_required_json(view: F) -> F:
    """Console JSON polled by the console's own scripts: 401 instead of a redirect.

    Polling is not a person using the console, so it does not keep an idle session alive.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        if console_session_state(touch=False) != "signed_in":
            return jsonify({"type": "error", "code": "signInRequired", "details": "Sign in to the console."}), 401
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (an open redirect) or a scheme."""
    if not target:
        return url_for("console_overview.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("console_overview.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@failed_console_sign_ins  # wrong passwords (401) per address; then 429 with Retry-After
def login():
    if session.get(SIGNED_IN) and console_session_state() == "signed_in":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        expected = current_app.config["CONSOLE_PASSWORD"] or ""
        given = form.password.data or ""
        if expected and hmac.compare_digest(given.encode(), expected.encode()):
            session.clear()  # a fresh session on sign-in: nothing from before carries over
            session[SIGNED_IN] = True
            session[LAST_SEEN] = time.time()
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("That is not the console password."))
    return render_template("issuer/login.html", form=form), (401 if form.errors else 200)


@bp.post("/logout")
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        session.clear()
        flash(_("You have signed out of the console."), "success")
    return redirect(url_for("console_auth.login"))


def template_context() -> dict[str, Any]:
    """What every issuer page needs: the bank's name, whether someone is signed in, the sign-out form."""
    signed_in = bool(g.get("console_signed_in") or session.get(SIGNED_IN))
    return {
        "bank_name": current_app.config["BANK_NAME"],
        "console_signed_in": signed_in,
        "signout_form": ActionForm() if signed_in else None,
        # Production hides the levers (their routes answer 404) and the full test card numbers.
        "sandbox_controls": bool(current_app.config["SANDBOX_CONTROLS"]),
        "demo_mode": current_app.config["ENV"] == "demo",
    }
