"""The one error shape of every JSON API, and the one table of the codes the partner API can answer.

Every error is ``{"type", "code", "details"}`` with a stable code. Rule failures are ``RuleError``
subclasses that carry their status and code; the request checks of this package raise the ones below.
``register_error_handlers`` installs the one handler that renders them all, and ``partner_error_codes``
lists every (status, code) the partner API, the gateway and the token call can answer: the OpenAPI test
compares it with the document.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import RuleError, error_classes
from ..extensions import db
from ..schemas import Error, dump
from .error_details import localized_details
from .paths import TOKEN_PATH

# Paths served as JSON APIs: their errors are never HTML pages.
API_PREFIXES = ("/v1/", "/gcb/", "/gateway/", "/sandbox/api")


def error_type(status: int) -> str:
    """The real issuer's error types.

    ``invalid``: the request breaks the specification (400, 405, 413, 415). A method a path does not serve
    is a request the specification does not allow, like a body of the wrong media type, so 405 is here.
    ``fatal``: retry later (429, 5xx). ``error``: a business rule or state refused it (401, 403, 404, 409,
    422, 423).
    """
    if status in (400, 405, 413, 415):
        return "invalid"
    if status == 429 or status >= 500:
        return "fatal"
    return "error"


# --- The request checks' own errors (rule errors live with their rules) ---------------------------


class RequestInvalid(RuleError):
    """The request breaks the specification: a field, header or body is missing or malformed."""

    status = 400
    code = "invalidRequest"


class TokenInvalid(RuleError):
    """The bearer token is missing, unknown or expired."""

    status = 401
    code = "invalidToken"


class ClientHeaderInvalid(RuleError):
    """The client_id header is missing or names another client than the token's."""

    status = 401
    code = "invalidClient"


class GrantTypeUnsupported(RuleError):
    """The token call asked for a grant other than client_credentials."""

    status = 400
    code = "unsupportedGrantType"


class ScopeInvalid(RuleError):
    """The token call asked for a scope other than /api."""

    status = 400
    code = "invalidScope"


# Stable codes of the HTTP-level errors Werkzeug raises before a handler runs.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalidRequest", "The request could not be understood."),
    404: ("notFound", "There is no such resource."),
    405: ("methodNotAllowed", "That HTTP method is not allowed here."),
    413: ("requestTooLarge", "The request body is too large."),
}
INTERNAL_ERROR = (500, "internalError", "The bank could not process this request; retry later.")
# A sandbox fault rule answers instead of the handler: its own status and code, or these by default.
INJECTED_FAULT = (503, "sandboxInjectedFault")


def partner_error_codes() -> set[tuple[int, str]]:
    """Every (status, code) the partner API, the card gateway and the token call can answer."""
    codes = {(cls.status, cls.code) for cls in error_classes() if not cls.sandbox_only}
    codes |= {(status, code) for status, (code, _) in HTTP_ERRORS.items()}
    return codes | {INTERNAL_ERROR[:2], INJECTED_FAULT}


# RFC 6749 §5.2: the token endpoint's errors also carry OAuth's own error field.
OAUTH_ERRORS = {
    "invalidRequest": "invalid_request",
    "requestTooLarge": "invalid_request",
    "methodNotAllowed": "invalid_request",
    "invalidClient": "invalid_client",
    "tooManyFailedAuthentications": "invalid_client",  # RFC 6749 has no 429 error; the cause is bad credentials
    "unsupportedGrantType": "unsupported_grant_type",
    "invalidScope": "invalid_scope",
}


def oauth_error(status: int, code: str) -> str:
    """The OAuth 2.0 error of a token-call error (5xx: the registered server_error/temporarily_unavailable)."""
    if status >= 500:
        return "temporarily_unavailable" if status == 503 else "server_error"
    return OAUTH_ERRORS.get(code, "invalid_request")


def error_response(
    status: int, code: str, details: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """The error body; on the token call it adds OAuth's ``error`` and ``error_description``."""
    details = localized_details(code, details)  # Accept-Language: zh-HK gets Chinese; the code never changes
    body: dict[str, Any] = {**dump(Error(type=error_type(status), code=code, details=details)), **extra}
    if request.path == TOKEN_PATH:
        body["error"] = oauth_error(status, code)
        body["error_description"] = details
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def rule_error_response(error: RuleError) -> Response:
    return error_response(
        error.status, error.code, error.details, headers=error.extra_headers(), **error.extra_fields()
    )


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIXES)


def register_error_handlers(app: Flask) -> None:
    """The one handler of rule errors, and JSON errors under the API prefixes (other paths keep their pages)."""

    @app.errorhandler(RuleError)
    def _rule_error(error: RuleError):
        # Rules commit what must stay (a wrong OTP attempt is counted); anything else is dropped.
        db.session.rollback()
        if not is_api_request():
            raise error  # the console catches its rule errors; one that escapes is a bug: a 500 page
        return rule_error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if not is_api_request():
            return error
        code, details = HTTP_ERRORS.get(error.code or 500, ("error", error.description or "Error."))
        response = error_response(error.code or 500, code, details)
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(500)
    def _server_error(error):
        db.session.rollback()
        if is_api_request():
            return error_response(*INTERNAL_ERROR)
        return "Internal Server Error", 500
