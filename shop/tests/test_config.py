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


def test_an_unknown_pay_with_points_flow_is_refused_at_start(tmp_path):
    from shop import create_app

    with pytest.raises(RuntimeError, match="SHOP_PWP_FLOW must be 'native' or 'legacy'"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}", "PWP_FLOW": "sideways"})


def test_the_flow_defaults_to_native_and_a_session_may_choose_legacy(app):
    from shop.checkout.flow import choose_flow, current_flow

    with app.test_request_context("/"):
        assert current_flow() == "native"
        choose_flow("legacy")
        assert current_flow() == "legacy"
        with pytest.raises(ValueError):
            choose_flow("sideways")
