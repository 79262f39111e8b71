"""Bearer-token authentication of partner calls, and the headers every call must carry."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import current_app, g, request

from .. import clock, tokens
from . import call_context
from .errors import ClientHeaderInvalid, RequestInvalid, TokenInvalid

F = TypeVar("F", bound=Callable)

UUID_PATTERN = re.compile(r"^[0-9A-Za-z-]{1,64}$")
# The header most often lost on the way: say why, and how to run the sandbox so it arrives.
MISSING_CLIENT_HEADER = (
    "The client_id header is required. If you sent it, something on the way dropped it: some servers and "
    "proxies drop header names with underscores (Flask's development server, `flask run`, does, and so do "
    "nginx and gunicorn by default). Run the sandbox with `make demo`, which starts gunicorn with "
    "`--header-map dangerous` so the header arrives, or let your proxy pass underscores through "
    "(nginx: `underscores_in_headers on;`)."
)


def authenticate_bearer(require_client_header: bool = True) -> tokens.Partner:
    """Resolve the bearer token to its partner (one query), or raise the documented 401/400."""
    token = call_context.bearer_token()
    if token is None:
        raise TokenInvalid("Send 'Authorization: Bearer <access_token>'.")
    context = call_context.current()
    if context is not None and context.token_presented == token:
        client = context.partner  # read with the call's context before the handler
    else:
        client = tokens.partner_for_token(current_app.config["SECRET_KEY"], token, clock.now())
    if client is None:
        raise TokenInvalid("The access token is unknown or has expired; request a new one.")
    client_header = request.headers.get("client_id")
    if require_client_header and not client_header:
        raise ClientHeaderInvalid(MISSING_CLIENT_HEADER)
    if client_header is not None and client_header != client.client_id:
        raise ClientHeaderInvalid("The client_id header does not match the access token.")
    return client


def require_request_uuid() -> str:
    request_uuid = request.headers.get("uuid", "")
    if not request_uuid:
        raise RequestInvalid("The uuid header (a request id) is required.")
    if not UUID_PATTERN.match(request_uuid):
        raise RequestInvalid("The uuid header must be a UUID (letters, digits and dashes).")
    return request_uuid


def partner_required(view: F) -> F:
    """Partner API calls: a valid bearer token, a matching client_id header and a uuid header.

    Sets ``g.partner_client``. The uuid is echoed back by the blueprint's after_request hook.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.partner_client = authenticate_bearer(require_client_header=True)
        require_request_uuid()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def gateway_required(view: F) -> F:
    """Gateway calls: the merchant's bearer token (client_id and uuid headers optional)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.partner_client = authenticate_bearer(require_client_header=False)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
