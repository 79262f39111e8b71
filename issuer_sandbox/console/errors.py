"""Friendly HTML error pages for the console and every other non-API path of the issuer.

Code-specific handlers win over api/errors.py's HTTPException handler, so under the API prefixes these
hand back the JSON error body themselves: the partner API never sees an HTML page.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..api import errors as api_errors
from ..extensions import db

bp = Blueprint("console_errors", __name__)

_PAGES = {
    400: (
        _l("This request could not be handled"),
        _l("The form was incomplete or could not be read. Go back and try again."),
    ),
    404: (_l("Page not found"), _l("There is no page at this address in the Summit Bank sandbox.")),
    405: (_l("Not allowed here"), _l("This address does not accept that kind of request.")),
    500: (
        _l("Something went wrong"),
        _l("The sandbox could not finish this request. Nothing was half-done: try again."),
    ),
}


def _api_json(status: int):
    code, details = api_errors.HTTP_ERRORS.get(status, ("error", "Error."))  # one table of codes for both
    return api_errors.error_response(status, code, details)


def _page(status: int, title: str | None = None, message: str | None = None):
    default_title, default_message = _PAGES.get(status, _PAGES[500])
    return (
        render_template(
            "issuer/error.html", status=status, title=title or default_title, message=message or default_message
        ),
        status,
    )


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    if api_errors.is_api_request():
        return _api_json(400)
    return _page(
        400,
        _("This form has expired"),
        _("The page was open too long or was sent twice. Reload it and try again."),
    )


@bp.app_errorhandler(400)
@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def http_error(error: HTTPException):
    status = error.code or 500
    if api_errors.is_api_request():
        response = _api_json(status)
        if status == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
    return _page(status)


@bp.app_errorhandler(500)
def server_error(error):
    db.session.rollback()
    if api_errors.is_api_request():
        return api_errors.error_response(500, "internalError", "The bank could not process this request; retry later.")
    return _page(500)
