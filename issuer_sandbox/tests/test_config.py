"""Configuration that the demo relies on."""

import pytest

from issuer_sandbox import create_app


def test_the_console_session_cookie_has_its_own_name_so_the_shop_beside_it_keeps_its_session(client):
    client.post("/login", data={"password": "demo"})
    assert client.get_cookie("summit_console_session") is not None
    assert client.get_cookie("session") is None


def test_production_mode_refuses_to_start_without_secrets(monkeypatch):
    for name in ("ISSUER_SECRET_KEY", "ISSUER_OTP_HASH_KEY", "ISSUER_SANDBOX_KEY", "ISSUER_CONSOLE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="ISSUER_SECRET_KEY"):
        create_app({"ENV": "production"})
