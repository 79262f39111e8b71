"""Production hardening of the shop: no demo or short secrets, personal pages never cached, HSTS behind HTTPS."""

from __future__ import annotations

import pytest

from shop import create_app
from shop.config import DEMO_SECRETS

from .conftest import close_app, make_app

STRONG = {
    "SECRET_KEY": "s" * 32,
    "ISSUER_CLIENT_ID": "harbour-mall",  # an identifier, not a secret: the demo's may stay
    "ISSUER_CLIENT_SECRET": "c" * 32,
}
SHOPPER = {"email": "chan.taiman@example.com", "password": "demo1234"}


def _production(tmp_path, **config):
    return create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **STRONG, **config})


@pytest.mark.parametrize("name", ["SECRET_KEY", "ISSUER_CLIENT_SECRET"])
def test_production_refuses_each_published_demo_secret_naming_the_setting(tmp_path, name):
    with pytest.raises(RuntimeError, match=f"SHOP_{name} is a published demo value"):
        _production(tmp_path, **{name: DEMO_SECRETS[name]})


@pytest.mark.parametrize("name", ["SECRET_KEY", "ISSUER_CLIENT_SECRET"])
@pytest.mark.parametrize("value", ["k", "x" * 31])
def test_production_refuses_a_secret_shorter_than_32_bytes_naming_the_setting(tmp_path, name, value):
    with pytest.raises(RuntimeError, match=f"SHOP_{name} is shorter than 32 bytes"):
        _production(tmp_path, **{name: value})


def test_production_starts_with_strong_secrets_and_secure_cookies(tmp_path):
    app = _production(tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["SECRET_KEY"] == "s" * 32


def _sign_in(client) -> None:
    response = client.post("/account/sign-in", data=SHOPPER)
    assert response.status_code == 302, response.get_data(as_text=True)


def test_a_visitors_catalogue_page_may_be_cached(client):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/", "/cart", "/orders", "/product/power-bank-10000"])
def test_every_page_a_signed_in_shopper_sees_is_no_store(client, path):
    _sign_in(client)
    response = client.get(path)
    assert response.status_code < 500
    assert response.headers["Cache-Control"] == "no-store", path


def test_a_visitors_cart_and_sign_in_pages_are_no_store(client):
    assert client.get("/cart").headers["Cache-Control"] == "no-store"
    assert client.get("/account/sign-in").headers["Cache-Control"] == "no-store"
    client.post("/cart/add", data={"product_id": "1", "quantity": "1"})
    assert client.get("/").headers["Cache-Control"] == "no-store"  # the header shows the cart


def test_strict_transport_security_only_behind_https(tmp_path, client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    (tmp_path / "https").mkdir()
    app = make_app(tmp_path / "https", PREFERRED_URL_SCHEME="https")
    try:
        header = app.test_client().get("/healthz").headers["Strict-Transport-Security"]
        assert header == "max-age=31536000; includeSubDomains"
    finally:
        close_app(app)
