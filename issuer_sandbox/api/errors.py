"""The one error shape of every JSON API: {"type", "code", "details"} with a stable code."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

# Paths served as JSON APIs: their errors are never HTML pages.
API_PREFIXES = ("/v1/", "/gcb/", "/gateway/", "/sandbox/api")


def error_type(status: int) -> str:
    """'invalid' for bad requests and business rules, 'fatal' for 'retry later', 'error' otherwise."""
    if status in (400, 413, 415, 422):
        return "invalid"
    if status == 429 or status >= 500:
        return "fatal"
    return "error"


class ApiError(Exception):
    """Raised by API handlers and rules adapters; rendered as the documented error body."""

    def __init__(self, status: int, code: str, details: str, **extra: Any) -> None:
        super().__init__(details)
        self.status = status
        self.code = code
        self.details = details
        self.extra = extra

    def to_response(self) -> Response:
        return error_response(self.status, self.code, self.details, **self.extra)


def error_response(status: int, code: str, details: str, **extra: Any) -> Response:
    body = {"type": error_type(status), "code": code, "details": details, **extra}
    response = jsonify(body)
    response.status_code = status
    return response


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIXES)


# Stable codes for the HTTP-level errors Werkzeug raises before a handler runs.
_HTTP_CODES = {
    400: ("invalidRequest", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "This client may not do that."),
    404: ("notFound", "There is no such resource."),
    405: ("methodNotAllowed", "That HTTP method is not allowed here."),
    413: ("requestTooLarge", "The request body is too large."),
    415: ("unsupportedMediaType", "Send the body as application/json."),
    429: ("tooManyRequests", "Too many requests; slow down."),
}


def register_error_handlers(app: Flask) -> None:
    """JSON errors under the API prefixes; other paths keep Flask's (or the console's) pages."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error.to_response()

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if not is_api_request():
            return error
        code, details = _HTTP_CODES.get(error.code or 500, ("error", error.description or "Error."))
        response = error_response(error.code or 500, code, details)
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(500)
    def _server_error(error):
        from ..extensions import db

        db.session.rollback()
        if is_api_request():
            return error_response(500, "internalError", "The bank could not process this request; retry later.")
        return "Internal Server Error", 500
