"""The OAuth2 client-credentials token endpoint and how its signed tokens are checked, expire and are revoked."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from issuer_sandbox import clock
from issuer_sandbox.extensions import db
from issuer_sandbox.models import AccessToken, PartnerClient
from issuer_sandbox.tokens import hash_client_secret, read_claims

from .conftest import CLIENT_ID, CLIENT_SECRET, SANDBOX_KEY, basic_auth
from .test_observability import add_fault

TOKEN_PATH = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
FORM = {"grant_type": "client_credentials", "scope": "/api"}


def request_token(client, data=None, auth=(CLIENT_ID, CLIENT_SECRET), **kwargs):
    headers = {"Authorization": basic_auth(*auth)} if auth else {}
    return client.post(TOKEN_PATH, data=FORM if data is None else data, headers=headers, **kwargs)


def partner_headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "client_id": CLIENT_ID, "uuid": str(uuid.uuid4())}


def test_valid_credentials_get_a_bearer_token_that_is_not_cached(client):
    response = request_token(client)

    assert response.status_code == 200
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["scope"] == "/api"
    assert len(body["access_token"]) >= 40
    assert response.headers["Cache-Control"] == "no-store"


def test_scope_is_optional_and_defaults_to_api(client):
    response = request_token(client, data={"grant_type": "client_credentials"})

    assert response.status_code == 200
    assert response.json["scope"] == "/api"


def test_a_token_call_stores_nothing_and_its_token_names_the_partner_and_an_expiry_1800_seconds_on(app, client):
    token = request_token(client).json["access_token"]

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AccessToken)) == 0
        partner = db.session.scalars(sa.select(PartnerClient).where(PartnerClient.client_id == CLIENT_ID)).one()
        claims = read_claims(token)
        assert claims is not None and claims.partner_id == partner.id
        expires = clock.real_utcnow() + timedelta(seconds=clock.offset_seconds() + 1800)
        assert abs(datetime(1970, 1, 1) + timedelta(microseconds=claims.expires_us) - expires) < timedelta(seconds=5)
        assert CLIENT_SECRET not in token


def _partner_call(client, token: str):
    return client.delete("/v1/apac/rewards/RL-x", headers=partner_headers(token))


def _tampered(token: str, field: int, value: str) -> str:
    parts = token.split(".")
    parts[field] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    ("change", "description"),
    [
        (lambda t: _tampered(t, 1, str(int(t.split(".")[1]) + 1)), "another partner id"),
        (lambda t: _tampered(t, 2, str(int(t.split(".")[2]) + 10**10)), "a later expiry"),
        (lambda t: _tampered(t, 3, "another-token-id"), "another token id"),
        (lambda t: _tampered(t, 4, t.split(".")[4][::-1]), "another signature"),
        (lambda t: t[:-1], "a truncated signature"),
        (lambda t: "pwp2" + t[4:], "another format version"),
        (lambda t: t.replace(".", "", 1), "a missing field"),
        (lambda t: "not-a-token", "garbage"),
    ],
)
def test_a_tampered_or_malformed_token_is_invalid_token(client, change, description):
    token = request_token(client).json["access_token"]
    assert _partner_call(client, token).status_code == 404  # the genuine token opens the API

    response = _partner_call(client, change(token))

    assert response.status_code == 401, description
    assert response.json["code"] == "invalidToken", description


def test_a_new_client_secret_revokes_the_tokens_issued_before_it(app, client):
    token = request_token(client).json["access_token"]
    with app.app_context():
        partner = db.session.scalars(sa.select(PartnerClient).where(PartnerClient.client_id == CLIENT_ID)).one()
        partner.secret_hash = hash_client_secret("a-rotated-secret")
        db.session.commit()

    assert _partner_call(client, token).status_code == 401
    assert (
        _partner_call(
            client, request_token(client, auth=(CLIENT_ID, "a-rotated-secret")).json["access_token"]
        ).status_code
        == 404
    )


def test_a_token_signed_under_another_secret_key_is_invalid_token(app, client):
    token = request_token(client).json["access_token"]
    app.config["SECRET_KEY"] = "another-issuer-secret-key"

    response = _partner_call(client, token)

    assert response.status_code == 401
    assert response.json["code"] == "invalidToken"


def test_a_sandbox_reset_revokes_the_tokens_issued_before_it(client):
    token = request_token(client).json["access_token"]

    reset = client.post("/sandbox/api/reset", headers={"X-Sandbox-Key": SANDBOX_KEY})

    assert reset.status_code in (200, 204), reset.get_data(as_text=True)
    assert _partner_call(client, token).status_code == 401
    assert _partner_call(client, request_token(client).json["access_token"]).status_code == 404


def test_each_request_issues_a_different_token(client):
    assert request_token(client).json["access_token"] != request_token(client).json["access_token"]


@pytest.mark.parametrize(
    ("auth", "description"),
    [
        ((CLIENT_ID, "wrong-secret"), "wrong secret"),
        (("someone-else", CLIENT_SECRET), "unknown client"),
        ((CLIENT_ID, ""), "empty secret"),
        (None, "no Authorization header"),
    ],
)
def test_bad_client_credentials_are_invalid_client_with_a_basic_challenge(client, auth, description):
    response = request_token(client, auth=auth)

    assert response.status_code == 401, description
    details = response.json["details"]
    assert response.json == {
        "type": "error",
        "code": "invalidClient",
        "details": details,
        "error": "invalid_client",  # RFC 6749 §5.2, for standard OAuth client libraries
        "error_description": details,
    }
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "access_token" not in response.json


def test_a_bearer_header_on_the_token_endpoint_is_invalid_client(client):
    response = client.post(TOKEN_PATH, data=FORM, headers={"Authorization": "Bearer abc"})

    assert response.status_code == 401
    assert response.json["code"] == "invalidClient"


@pytest.mark.parametrize(
    ("data", "status", "code", "oauth_error"),
    [
        ({"grant_type": "password"}, 400, "unsupportedGrantType", "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "scope": "/api"}, 400, "unsupportedGrantType", "unsupported_grant_type"),
        ({"scope": "/api"}, 400, "invalidRequest", "invalid_request"),
        ({"grant_type": ""}, 400, "invalidRequest", "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "/admin"}, 400, "invalidScope", "invalid_scope"),
    ],
)
def test_bad_grant_requests_get_their_documented_code_and_oauth_error(client, data, status, code, oauth_error):
    response = request_token(client, data=data)

    assert response.status_code == status
    assert response.json["code"] == code
    assert response.json["type"] == "invalid"
    assert response.json["error"] == oauth_error
    assert response.json["error_description"] == response.json["details"]


def test_a_json_body_instead_of_a_form_is_invalid_request(client):
    response = client.post(TOKEN_PATH, json=FORM, headers={"Authorization": basic_auth(CLIENT_ID, CLIENT_SECRET)})

    assert response.status_code == 400
    assert response.json["code"] == "invalidRequest"


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_on_the_token_endpoint_are_json_405(client, method):
    response = getattr(client, method)(TOKEN_PATH)

    assert response.status_code == 405
    assert response.json["code"] == "methodNotAllowed"
    assert (response.json["type"], response.json["error"]) == ("invalid", "invalid_request")
    assert "POST" in response.headers["Allow"]


def test_a_fault_on_the_token_call_says_retry_later_in_oauth_terms_too(app, client):
    add_fault(app, "token.issue_token", error_status=503)
    response = request_token(client)

    assert response.status_code == 503
    assert response.json["code"] == "sandboxInjectedFault"
    assert (response.json["type"], response.json["error"]) == ("fatal", "temporarily_unavailable")


def test_errors_of_the_partner_api_carry_no_oauth_fields(client):
    response = client.get("/gcb/api/v1/apac/rewards/RL-x/pointBalance")

    assert response.status_code == 401
    assert set(response.json) == {"type", "code", "details"}


def test_a_fresh_token_opens_the_partner_api(client):
    token = request_token(client).json["access_token"]

    response = client.delete("/v1/apac/rewards/RL-unknown", headers=partner_headers(token))

    assert response.status_code == 404  # authenticated; the link simply does not exist
    assert response.json["code"] == "invalidRewardLinkCode"


def test_a_token_expires_when_the_sandbox_clock_passes_1800_seconds(client):
    token = request_token(client).json["access_token"]
    advance = {"X-Sandbox-Key": SANDBOX_KEY}

    client.post("/sandbox/api/clock/advance", json={"seconds": 1799}, headers=advance)
    assert client.delete("/v1/apac/rewards/RL-x", headers=partner_headers(token)).status_code == 404

    client.post("/sandbox/api/clock/advance", json={"seconds": 1}, headers=advance)
    response = client.delete("/v1/apac/rewards/RL-x", headers=partner_headers(token))
    assert response.status_code == 401
    assert response.json["code"] == "invalidToken"


def test_a_token_does_not_work_with_another_client_id_header(client):
    token = request_token(client).json["access_token"]

    response = client.delete("/v1/apac/rewards/RL-x", headers={**partner_headers(token), "client_id": "other-shop"})

    assert response.status_code == 401
    assert response.json["code"] == "invalidClient"


def test_a_partner_call_without_the_client_id_header_says_what_probably_dropped_it(client):
    token = request_token(client).json["access_token"]
    headers = partner_headers(token)
    del headers["client_id"]

    response = client.get("/gcb/api/v1/apac/rewards/RL-x/pointBalance", headers=headers)

    assert response.status_code == 401
    assert (response.json["type"], response.json["code"]) == ("error", "invalidClient")
    details = response.json["details"]
    assert "The client_id header is required" in details
    assert "underscores" in details and "Flask's development server" in details
    assert "--header-map dangerous" in details and "make demo" in details


def test_a_token_call_reads_in_one_transaction_and_takes_no_write_lock(app, client):
    caller = threading.current_thread()
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if threading.current_thread() is caller:  # not the request log's writer thread
            seen.append(statement.split()[0] + (" IMMEDIATE" if "IMMEDIATE" in statement else ""))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert request_token(client).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)

    # One statement: the call's context, the row of the client the Basic header names included.
    if engine.dialect.name == "sqlite":
        assert seen == ["BEGIN", "SELECT"]
    else:
        assert seen == ["SELECT"]
