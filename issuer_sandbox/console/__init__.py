"""The Summit Bank sandbox console: HTML pages at / for testers and stakeholders, behind a password.

Views here follow the issuer's one commit rule: they validate a form, call a rules function and render or
flash. A change commits inside its rules function (``controls``, ``clock``, ``seed``), reads go through
``inspection``; no view touches ``db.session`` (tests/test_house_rules.py checks it).
"""

from __future__ import annotations

from flask import Flask, Response

from ..api.errors import is_api_request

# Imported here, not inside a function or a try: a console module that fails to import must stop the app
# from being created, never leave an issuer without its console.
from . import auth, cards, controls, errors, insights, links, overview, phone, reference, requests

# Same-origin scripts, styles and images only: no inline scripts or style attributes, nothing remote.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)


def register_console(app: Flask) -> None:
    """Register the console's blueprints, its HTML error pages and the security headers of its pages."""
    for module in (auth, overview, cards, phone, links, requests, insights, controls, reference, errors):
        app.register_blueprint(module.bp)
    app.after_request(_security_headers)
    app.context_processor(auth.template_context)
    # The console's session cookie: never sent on cross-site requests, and only over HTTPS in production.
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config["ENV"] == "production":
        app.config["SESSION_COOKIE_SECURE"] = True


def _security_headers(response: Response) -> Response:
    """Every non-API page of the issuer gets the CSP; JSON APIs keep their own headers."""
    if not is_api_request():
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response
