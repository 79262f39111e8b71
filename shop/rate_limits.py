"""Limits on guessing and flooding: failed sign-ins and sign-ups per address, new codes per order.

Flask-Limiter counts only the failed sign-ins and sign-ups (``deduct_when``: the form answered 422), so a
shopper who signs in is never slowed down; once an address (or an account's email) has used up its failures,
every attempt waits until the window moves on. The counters live in each worker's memory
(``RATELIMIT_STORAGE_URI``): nothing new has to run, and with N gunicorn workers a client gets at most N x the
limit. A refused request gets the shop's error page with a clear message and ``Retry-After``.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, request, session
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded

from .errors import _error_page
from .extensions import limiter

SIGN_IN_MESSAGE = _l("Too many failed sign-ins. For your security, wait a few minutes before trying again.")
SIGN_UP_MESSAGE = _l("Too many sign-ups that did not go through. Wait a few minutes before trying again.")
CODE_REQUESTS_MESSAGE = _l(
    "You have asked for many codes for this order. Wait a few minutes, then go back to your order to try again."
)


def _form_refused(response) -> bool:
    return response.status_code == 422


def _account_key() -> str:
    """The email a sign-in names (normalised as accounts are), so one account is not guessed from many addresses."""
    return "account:" + (request.form.get("email") or "").strip().lower()


def _order_key() -> str:
    """This shopper's order: a stranger's requests (a 404) cannot use up the owner's codes."""
    return f"order:{session.get('user_id')}:{(request.view_args or {}).get('reference', '')}"


def _config(key: str):
    return lambda: current_app.config[key]


failed_sign_ins_per_address = limiter.limit(
    _config("RATE_LIMIT_SIGN_IN_FAILURES"),
    methods=["POST"],
    deduct_when=_form_refused,
    error_message=lambda: str(SIGN_IN_MESSAGE),
)
failed_sign_ins_per_account = limiter.limit(
    _config("RATE_LIMIT_SIGN_IN_FAILURES_PER_ACCOUNT"),
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_form_refused,
    error_message=lambda: str(SIGN_IN_MESSAGE),
)
failed_sign_ups_per_address = limiter.limit(
    _config("RATE_LIMIT_SIGN_UP_FAILURES"),
    methods=["POST"],
    deduct_when=_form_refused,
    error_message=lambda: str(SIGN_UP_MESSAGE),
)
# One budget for "send a code" and "resend code" of an order: each of them sends the shopper an SMS.
code_requests_per_order = limiter.shared_limit(
    _config("RATE_LIMIT_CODE_REQUESTS_PER_ORDER"),
    scope="order-code-requests",
    key_func=_order_key,
    error_message=lambda: str(CODE_REQUESTS_MESSAGE),
)


def retry_after_seconds() -> int:
    """Seconds until the limit this request broke lets the next attempt through (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window[0] - time.time()))


def _too_many(error: RateLimitExceeded) -> ResponseReturnValue:
    body, status = _error_page(429, message=error.description)
    response = current_app.make_response((body, status))
    response.headers["Retry-After"] = str(retry_after_seconds())
    return response


def init_app(app: Flask) -> None:
    """Bind the limiter and answer its 429s with the shop's error page."""
    limiter.init_app(app)
    # Every limit here is a decorator on its view, and the decorator checks its own limit. Flask-Limiter also
    # installs an app-wide before_request check for default and blueprint limits, which we never set: it only
    # cost 8-11% of every call (e2e/bench_profile.py), so it goes. Its after_request hook (deduct_when) stays.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.register_error_handler(RateLimitExceeded, _too_many)
