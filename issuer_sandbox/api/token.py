"""POST /gcb/api/clientCredentials/oauth2/token/hk/gcb: OAuth2 client credentials (HTTP Basic)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from .. import clock, tokens
from .errors import ApiError
from .paths import TOKEN_PATH

bp = Blueprint("token", __name__)


def _invalid_client(details: str) -> Response:
    response = ApiError(401, "invalidClient", details).to_response()
    response.headers["WWW-Authenticate"] = 'Basic realm="Summit Bank partner API"'
    return response


@bp.post(TOKEN_PATH)
def issue_token():
    """Trade client_id:client_secret (HTTP Basic) for a bearer token."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username or auth.password is None:
        return _invalid_client("Authenticate with HTTP Basic client_id:client_secret.")
    try:
        client = tokens.authenticate_client(auth.username, auth.password)
    except tokens.InvalidClient:
        return _invalid_client("Unknown client or wrong secret.")
    if request.mimetype != "application/x-www-form-urlencoded":
        raise ApiError(400, "invalidRequest", "Send the form as application/x-www-form-urlencoded.")
    grant_type = request.form.get("grant_type", "")
    if not grant_type:
        raise ApiError(400, "invalidRequest", "grant_type is required.")
    if grant_type != "client_credentials":
        raise ApiError(400, "unsupportedGrantType", "Only grant_type=client_credentials is supported.")
    scope = request.form.get("scope") or tokens.API_SCOPE
    if scope != tokens.API_SCOPE:
        raise ApiError(400, "invalidScope", f"The only scope is {tokens.API_SCOPE}.")

    ttl = int(current_app.config["TOKEN_TTL_SECONDS"])
    token = tokens.issue_token(client, clock.now(), ttl, scope)
    response = jsonify({"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
