"""Guards the other features' views use: login_required, and same-site "next" paths only."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _

F = TypeVar("F", bound=Callable[..., Any])


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: '/cart' yes; '//evil.example', 'https://...', '/\\evil' no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(char) < 32 for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "/") -> str:
    return target if is_safe_next(target) else default


def _return_path() -> str:
    """Where to come back to after signing in: this page for GET, the page the form was on otherwise."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = request.referrer
    if referrer:
        parts = urlsplit(referrer)
        if parts.netloc == request.host:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if is_safe_next(path):
                return path
    return "/"


def login_required(view: F) -> F:
    """Send signed-out shoppers to sign in, then back to where they were going."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        if g.get("user") is None:
            flash(_("Please sign in to continue."), "info")
            return redirect(url_for("accounts.sign_in", next=_return_path()))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
