"""Configuration that the demo relies on."""

import pytest

from shop import create_app


def test_the_shop_session_cookie_has_its_own_name_so_the_bank_console_beside_it_keeps_its_session(client):
    client.get("/")
    client.post("/cart/add", data={"product_id": "1", "quantity": "1"})
    assert client.get_cookie("harbour_mall_session") is not None
    assert client.get_cookie("session") is None


def test_production_mode_refuses_to_start_without_secrets(monkeypatch):
    for name in ("SHOP_SECRET_KEY", "SHOP_ISSUER_CLIENT_ID", "SHOP_ISSUER_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="SHOP_SECRET_KEY"):
        create_app({"ENV": "production"})
