"""Production hardening of the issuer: no demo or short secrets, sandbox controls off unless asked for,
no full card number from the API, no caching of signed-in console pages, HSTS behind HTTPS."""

from __future__ import annotations

import pytest

from issuer_sandbox import create_app
from issuer_sandbox.config import DEMO_SECRETS

from .conftest import close_app, make_app

STRONG = {
    "SECRET_KEY": "s" * 32,
    "OTP_HASH_KEY": "o" * 32,
    "SANDBOX_KEY": "k" * 32,
    "CONSOLE_PASSWORD": "a long console pass phrase, 32 b",
    "PARTNER_CLIENT_ID": "harbour-mall",  # an identifier, not a secret: the demo's may stay
    "PARTNER_CLIENT_SECRET": "p" * 32,
}
KEY = {"X-Sandbox-Key": STRONG["SANDBOX_KEY"]}
HTTPS = {"base_url": "https://localhost"}  # production cookies are Secure

# One route of every sandbox control: API and console.
CONTROL_ROUTES = [
    ("post", "/sandbox/api/reset"),
    ("get", "/sandbox/api/clock"),
    ("post", "/sandbox/api/clock/advance"),
    ("get", "/sandbox/api/faults"),
    ("post", "/sandbox/api/faults"),
    ("get", "/sandbox/api/cards"),
    ("get", "/sandbox/api/cards/8741"),
    ("post", "/sandbox/api/cards/8741/points"),
    ("post", "/sandbox/api/cards/8741/freeze"),
    ("post", "/sandbox/api/cardholders"),
    ("get", "/sandbox/api/links"),
    ("delete", "/sandbox/api/links/1"),
    ("get", "/sandbox/api/ledger/health"),
    ("get", "/controls"),
    ("post", "/controls/reset"),
    ("post", "/controls/clock"),
    ("post", "/controls/faults"),
    ("post", "/cards/8741/freeze"),
    ("post", "/cards/8741/points"),
    ("get", "/cardholders/new"),
    ("post", "/links/1/unlink"),
]


@pytest.fixture
def production(tmp_path, monkeypatch):
    """The issuer in production mode with strong secrets and the controls left at their default."""
    monkeypatch.delenv("ISSUER_SANDBOX_CONTROLS", raising=False)
    app = make_app(f"sqlite:///{tmp_path / 'issuer.sqlite3'}", ENV="production", **STRONG)
    yield app
    close_app(app)


def _signed_in(app):
    client = app.test_client()
    response = client.post("/login", data={"password": app.config["CONSOLE_PASSWORD"]}, **HTTPS)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.mark.parametrize("name", sorted(set(STRONG) - {"PARTNER_CLIENT_ID"}))
def test_production_refuses_each_published_demo_secret_naming_the_setting(tmp_path, name):
    with pytest.raises(RuntimeError, match=f"ISSUER_{name} is a published demo value"):
        create_app(
            {"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **STRONG, name: DEMO_SECRETS[name]}
        )


@pytest.mark.parametrize("name", sorted(set(STRONG) - {"PARTNER_CLIENT_ID"}))
def test_production_refuses_a_secret_shorter_than_32_bytes_naming_the_setting(tmp_path, name):
    with pytest.raises(RuntimeError, match=f"ISSUER_{name} is shorter than 32 bytes"):
        create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **STRONG, name: "x" * 31})


def test_a_one_character_key_is_refused_and_32_multibyte_characters_count_as_bytes(tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    with pytest.raises(RuntimeError, match="ISSUER_SANDBOX_KEY is shorter than 32 bytes"):
        create_app({"ENV": "production", "DATABASE_URL": url, **STRONG, "SANDBOX_KEY": "k"})
    app = create_app({"ENV": "production", "DATABASE_URL": url, **STRONG, "SANDBOX_KEY": "鑰" * 11})  # 33 bytes
    assert app.config["SANDBOX_KEY"] == "鑰" * 11


def test_an_unknown_controls_setting_stops_start_up(tmp_path):
    with pytest.raises(RuntimeError, match="ISSUER_SANDBOX_CONTROLS must be 'on' or 'off'"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SANDBOX_CONTROLS": "maybe"})


@pytest.mark.parametrize(("method", "path"), CONTROL_ROUTES)
def test_sandbox_controls_are_not_found_in_production(production, method, path):
    client = _signed_in(production)
    response = getattr(client, method)(path, json={}, headers=KEY, **HTTPS)
    assert response.status_code == 404
    if path.startswith("/sandbox/api"):
        assert response.json["code"] == "notFound"


def test_production_keeps_the_read_only_sms_outbox_and_request_log(production):
    client = production.test_client()
    assert client.get("/sandbox/api/sms", headers=KEY, **HTTPS).status_code == 200
    assert client.get("/sandbox/api/requests", headers=KEY, **HTTPS).status_code == 200


def test_the_console_hides_the_controls_and_the_full_card_number_in_production(production):
    client = _signed_in(production)
    card = client.get("/cards/8741", **HTTPS).get_data(as_text=True)
    assert "4966 0100 0000 8741" not in card and "Freeze card" not in card and "Adjust points" not in card
    overview = client.get("/", **HTTPS).get_data(as_text=True)
    assert 'href="/controls"' not in overview
    assert "New test cardholder" not in client.get("/cards", **HTTPS).get_data(as_text=True)


def test_controls_on_in_production_bring_them_back_without_a_full_card_number(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'i.sqlite3'}", ENV="production", SANDBOX_CONTROLS="on", **STRONG)
    try:
        client = app.test_client()
        body = {"name": "TAM WAI KEI", "mobile": "98765432", "programme": "REWARDS", "points": 5000}
        created = client.post("/sandbox/api/cardholders", json=body, headers=KEY, **HTTPS)
        assert created.status_code == 201
        assert "number" not in created.json and created.json["maskedNumber"].endswith(created.json["last4"])
        assert client.get("/sandbox/api/clock", headers=KEY, **HTTPS).status_code == 200
        assert "Freeze card" in _signed_in(app).get("/cards/8741", **HTTPS).get_data(as_text=True)
    finally:
        close_app(app)


def test_controls_can_be_switched_off_in_demo_mode(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'i.sqlite3'}", SANDBOX_CONTROLS="off")
    try:
        response = app.test_client().post("/sandbox/api/reset", headers={"X-Sandbox-Key": "demo-sandbox-key"})
        assert response.status_code == 404
    finally:
        close_app(app)


def test_demo_mode_gives_the_full_number_only_when_a_test_cardholder_is_created(client):
    demo_key = {"X-Sandbox-Key": "demo-sandbox-key"}
    body = {"name": "TAM WAI KEI", "mobile": "98765432", "programme": "REWARDS"}
    created = client.post("/sandbox/api/cardholders", json=body, headers=demo_key).json
    assert len(created["number"]) == 16
    for path in (f"/sandbox/api/cards/{created['last4']}", "/sandbox/api/cards"):
        assert created["number"] not in client.get(path, headers=demo_key).get_data(as_text=True)


def test_signed_in_console_pages_and_sandbox_answers_are_never_cached(app, client):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    client.post("/login", data={"password": "demo"})
    for path in ("/", "/cards/8741", "/phone?phone=91234567", "/phone/messages.json?phone=91234567"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    sms = client.get("/sandbox/api/sms", headers={"X-Sandbox-Key": "demo-sandbox-key"})
    assert sms.headers["Cache-Control"] == "no-store"


def test_strict_transport_security_only_behind_https(tmp_path, client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    app = make_app(f"sqlite:///{tmp_path / 'i.sqlite3'}", PREFERRED_URL_SCHEME="https")
    try:
        for path in ("/healthz", "/login", "/openapi.json"):
            header = app.test_client().get(path).headers["Strict-Transport-Security"]
            assert header == "max-age=31536000; includeSubDomains", path
    finally:
        close_app(app)
