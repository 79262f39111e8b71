"""The app-wide error pages: friendly HTML with a way back (JSON for a client that asks for it)."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .catalog_data import POPULAR_SEARCHES
from .extensions import db


def register_error_handlers(app: Flask) -> None:
    """Every HTTP error, an expired CSRF token and an unhandled exception get the shop's error page."""
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(500, server_error)


_ERROR_TEXT = {
    400: (_l("Something was wrong with that request"), _l("Please go back and try again.")),
    403: (_l("You cannot open this page"), _l("It belongs to another account, or you need to sign in first.")),
    404: (_l("We could not find that page"), _l("The page may have moved, or the product is no longer sold.")),
    405: (_l("That did not work"), _l("This page cannot be used that way. Please go back and try again.")),
    413: (_l("That was too much to send"), _l("Please send less at once.")),
    429: (_l("Please slow down"), _l("Too many requests in a short time. Wait a moment and try again.")),
    500: (_l("Something went wrong on our side"), _l("We have been told about it. Please try again in a moment.")),
}


def _error_page(status: int, heading: str | None = None, message: str | None = None):
    default_heading, default_message = _ERROR_TEXT.get(status) or _ERROR_TEXT[400 if status < 500 else 500]
    heading, message = str(heading or default_heading), str(message or default_message)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"status": status, "error": heading, "details": message}), status
    return (
        render_template(
            "shop/errors/error.html",
            status=status,
            heading=heading,
            message=message,
            title=heading,
            popular_searches=POPULAR_SEARCHES,
        ),
        status,
    )


def csrf_error(error: CSRFError):
    return _error_page(
        400, _("Your session expired"), _("For your security the form timed out. Please go back, reload and try again.")
    )


def http_error(error: HTTPException):
    status = error.code or 500
    if status < 400:
        return error
    return _error_page(status)


def server_error(error):
    # Whatever failed may have left the session mid-transaction; the page itself must not reuse it.
    db.session.rollback()
    return _error_page(500)
