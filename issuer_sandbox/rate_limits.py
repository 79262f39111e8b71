"""Per-address limits on failed attempts: console sign-ins and client authentications at the token call.

Flask-Limiter counts only the attempts that failed (``deduct_when``), so successful token calls (which the
benchmark drives) are never throttled; once an address has used up its failures, every attempt from it is
refused until the window moves on. The counters live in each worker's memory (``RATELIMIT_STORAGE_URI``):
nothing new has to run, and with N gunicorn workers an address gets at most N x the limit. The OTP limits
per card and per phone are business rules counted in the database instead (links.py).
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response

from .api.errors import rule_error_response
from .api.paths import TOKEN_PATH
from .errors import RuleError
from .extensions import limiter

CONSOLE_SIGNIN_MESSAGE = "Too many wrong console passwords from this address. Wait before trying again."
TOKEN_FAILURES_MESSAGE = "Too many failed client authentications from this address; retry later."


class TooManyFailedAuthentications(RuleError):
    """The token call refused this address for a while: too many wrong client credentials from it."""

    status = 429
    code = "tooManyFailedAuthentications"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"{TOKEN_FAILURES_MESSAGE} Retry after {retry_after_seconds} s.")
        self.retry_after_seconds = retry_after_seconds

    def extra_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


def _failed_with(status: int):
    return lambda response: response.status_code == status


# Decorators for the views: the limit strings are read from the config on every request.
failed_console_sign_ins = limiter.limit(
    lambda: current_app.config["RATE_LIMIT_CONSOLE_SIGNIN"],
    methods=["POST"],
    deduct_when=_failed_with(401),
    error_message=CONSOLE_SIGNIN_MESSAGE,
)
failed_client_authentications = limiter.limit(
    lambda: current_app.config["RATE_LIMIT_TOKEN_FAILURES"],
    deduct_when=_failed_with(401),
    error_message=TOKEN_FAILURES_MESSAGE,
)


def retry_after_seconds() -> int:
    """Seconds until the limit this request broke lets the next attempt through (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window[0] - time.time()))


def _too_many(error: RateLimitExceeded) -> ResponseReturnValue:
    wait = retry_after_seconds()
    if request.path == TOKEN_PATH:
        return rule_error_response(TooManyFailedAuthentications(wait))
    from .console.forms import LoginForm  # the only HTML page with a limit: the console's sign-in

    form = LoginForm()
    form.password.errors = [f"{error.description} Try again in {wait} seconds."]
    response = Response(render_template("issuer/login.html", form=form), status=429, mimetype="text/html")
    response.headers["Retry-After"] = str(wait)
    return response


def init_app(app: Flask) -> None:
    """Bind the limiter and answer its 429s: the error body of the token call, the console's sign-in page."""
    limiter.init_app(app)
    # Every limit here is a decorator on its view, and the decorator checks its own limit. Flask-Limiter also
    # installs an app-wide before_request check for default and blueprint limits, which we never set: it only
    # cost 8-11% of every call (e2e/bench_profile.py), so it goes. Its after_request hook (deduct_when) stays.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.register_error_handler(RateLimitExceeded, _too_many)


def clear_counters() -> None:
    """Forget every failed attempt this worker counted (the sandbox's reset)."""
    limiter.reset()
