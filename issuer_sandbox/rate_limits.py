"""Per-address limits on failed attempts: console sign-ins and client authentications at the token call.

Only the attempts that failed are counted (the console's through Flask-Limiter's ``deduct_when``, the token
call's by `failed_client_authentications`), so successful token calls (which the benchmark drives) are never
throttled; once an address has used up its failures, every attempt from it is refused until the window moves
on. The counters live in each worker's memory (``RATELIMIT_STORAGE_URI``): nothing new has to run, and with N
gunicorn workers an address gets at most N x the limit. The OTP limits per card and per phone are business
rules counted in the database instead (links.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

from flask import Flask, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem
from limits import parse as parse_limit
from werkzeug.wrappers import Response

from .errors import RuleError
from .extensions import limiter
from .tokens import InvalidClient

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


# The console's sign-in: Flask-Limiter's decorator, its limit string read from the config on every request.
failed_console_sign_ins = limiter.limit(
    lambda: current_app.config["RATE_LIMIT_CONSOLE_SIGNIN"],
    methods=["POST"],
    deduct_when=_failed_with(401),
    error_message=CONSOLE_SIGNIN_MESSAGE,
)


def failed_client_authentications(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """The token call's limit: refused (429) once this address has failed to authenticate too often.

    Asked of the limiter's own strategy and storage (Flask-Limiter's ``limits`` engine: the same counters, the
    same moving window, cleared by the same reset) rather than through a ``limiter.limit`` decorator: the
    decorator's per-request machinery (finding the route's limits, resolving them, its request context, the
    ``deduct_when`` hook) cost a fifth of every successful token call in-process (832 -> 620 us, where the view
    alone takes 610), for a counter a well-behaved partner never touches.
    """

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        limit = _parsed_limit(current_app.config["RATE_LIMIT_TOKEN_FAILURES"])
        address = get_remote_address()
        if not limiter.limiter.test(limit, TOKEN_FAILURES_SCOPE, address):
            reset_at = limiter.limiter.get_window_stats(limit, TOKEN_FAILURES_SCOPE, address).reset_time
            raise TooManyFailedAuthentications(max(1, math.ceil(reset_at - time.time())))
        try:
            return view(*args, **kwargs)
        except InvalidClient:
            limiter.limiter.hit(limit, TOKEN_FAILURES_SCOPE, address)
            raise

    return limited


TOKEN_FAILURES_SCOPE = "token-failures"  # the counters' namespace in the limiter's storage


@lru_cache(maxsize=8)
def _parsed_limit(text: str) -> RateLimitItem:
    return parse_limit(text)


def retry_after_seconds() -> int:
    """Seconds until the limit this request broke lets the next attempt through (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window[0] - time.time()))


def _too_many(error: RateLimitExceeded) -> ResponseReturnValue:
    """The console's sign-in page, refused: its only limit through Flask-Limiter's decorator."""
    wait = retry_after_seconds()
    from .console.forms import LoginForm

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
