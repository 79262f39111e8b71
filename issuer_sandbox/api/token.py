"""POST /gcb/api/clientCredentials/oauth2/token/hk/gcb: OAuth2 client credentials (HTTP Basic).

The token is signed, not stored (tokens.py): the call reads the partner's row and writes nothing.

Errors carry OAuth 2.0's ``error`` and ``error_description`` beside type, code and details (api/errors.py).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .. import clock, tokens
from ..database import reading
from ..rate_limits import failed_client_authentications
from ..schemas import TokenResponse, dump
from . import call_context
from .errors import GrantTypeUnsupported, RequestInvalid, ScopeInvalid
from .paths import TOKEN_PATH

bp = Blueprint("token", __name__)


@bp.post(TOKEN_PATH)
@failed_client_authentications  # wrong credentials (401) per address; successful calls are never counted
def issue_token():
    """Trade client_id:client_secret (HTTP Basic) for a bearer token."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username or auth.password is None:
        raise tokens.InvalidClient("Authenticate with HTTP Basic client_id:client_secret.")
    context = call_context.current()
    with reading():  # a token is signed, never stored: the call writes nothing, so takes no write lock
        if context is not None and context.basic_client_id == auth.username:
            # The context read the client's row in this read transaction, with the clock and the faults.
            client = tokens.authenticate_client(auth.username, auth.password, context.basic_client)
        else:
            client = tokens.authenticate_client(auth.username, auth.password)
    if request.mimetype != "application/x-www-form-urlencoded":
        raise RequestInvalid("Send the form as application/x-www-form-urlencoded.")
    grant_type = request.form.get("grant_type", "")
    if not grant_type:
        raise RequestInvalid("grant_type is required.")
    if grant_type != "client_credentials":
        raise GrantTypeUnsupported("Only grant_type=client_credentials is supported.")
    scope = request.form.get("scope") or tokens.API_SCOPE
    if scope != tokens.API_SCOPE:
        raise ScopeInvalid(f"The only scope is {tokens.API_SCOPE}.")

    ttl = int(current_app.config["TOKEN_TTL_SECONDS"])
    token = tokens.issue_token(current_app.config["SECRET_KEY"], client, clock.now(), ttl)
    answer = TokenResponse(access_token=token, token_type="Bearer", expires_in=ttl, scope=scope)
    response = jsonify(dump(answer))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
