"""Every storefront page renders with a sensible title, the CSP, no inline code, and friendly error pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from werkzeug.exceptions import InternalServerError

from shop import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

PAGES = [
    ("/", "Online shopping in Hong Kong · Harbour Mall"),
    ("/category/supermarket", "Supermarket · Harbour Mall"),
    ("/product/octopus-card-holder", "Octopus Card Holder with Lanyard · Harbour Mall"),
    ("/search?q=tea", "Search results for “tea” · Harbour Mall"),
    ("/search", "All products · Harbour Mall"),
    ("/cart", "Your cart · Harbour Mall"),
    ("/account/sign-in", "Sign in · Harbour Mall"),
    ("/account/sign-up", "Create an account · Harbour Mall"),
]


def title_of(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


@pytest.mark.parametrize(("path", "title"), PAGES)
def test_pages_render_with_a_sensible_title(client, path, title):
    response = client.get(path)
    assert response.status_code == 200
    assert title_of(response.get_data(as_text=True)) == title


@pytest.mark.parametrize(("path", "title"), PAGES)
def test_pages_carry_the_content_security_policy(client, path, title):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("path", "title"), PAGES)
def test_pages_have_no_inline_scripts_styles_or_remote_resources(client, shopper, path, title):
    shopper.sign_in()
    html = client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html), "style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r'(src|href)="(https?:)?//', html), "remote resource"


def test_templates_have_no_inline_styles_or_scripts():
    for template in (TEMPLATES / "shop").rglob("*.html"):
        if template.parts[-2] in ("checkout", "orders"):
            continue  # another part of the shop; checked by its own tests
        text = template.read_text()
        assert not re.search(r"\sstyle=|<style|<script(?![^>]*src=)", text), template


@pytest.mark.parametrize(("path", "title"), PAGES)
def test_pages_have_a_skip_link_and_landmarks(client, path, title):
    html = client.get(path).get_data(as_text=True)
    assert '<a class="skip-link" href="#main">Skip to main content</a>' in html
    assert '<main id="main"' in html
    assert 'role="search"' in html
    assert '<html lang="en">' in html


def test_the_header_shows_sign_in_to_a_visitor_and_account_links_to_a_shopper(client, shopper):
    html = client.get("/").get_data(as_text=True)
    assert ">Sign in<" in html and "My orders" not in html
    shopper.sign_in()
    html = client.get("/").get_data(as_text=True)
    assert 'href="/orders">My orders<' in html
    assert 'value="Sign out"' in html and 'action="/account/sign-out" method="post"' in html


def test_every_form_field_on_the_sign_up_page_has_a_label(client):
    html = client.get("/account/sign-up").get_data(as_text=True)
    ids = re.findall(r'<input[^>]*\bid="([^"]+)"[^>]*>', html)
    visible = [i for i in ids if i not in ("csrf_token", "next", "submit")]
    assert visible
    for field_id in visible:
        assert f'for="{field_id}"' in html, field_id


def test_an_unknown_page_is_a_friendly_404_with_a_way_back(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert title_of(html) == "We could not find that page · Harbour Mall"
    assert 'href="/">Back to the home page<' in html
    assert 'action="/search"' in html
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_a_wrong_method_gets_a_friendly_page(client):
    response = client.get("/cart/add")
    assert response.status_code == 405
    assert "Back to the home page" in response.get_data(as_text=True)


def test_a_server_error_is_a_friendly_500_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/broken", "broken", broken)
    response = client.get("/broken")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html
    assert "boom" not in html and "Traceback" not in html


def test_the_500_handler_rolls_the_session_back(app, monkeypatch):
    from shop import errors

    calls = []
    monkeypatch.setattr(errors.db.session, "rollback", lambda: calls.append("rollback"))
    with app.test_request_context("/"):
        _, status = errors.server_error(InternalServerError())
    assert status == 500 and "rollback" in calls


def test_a_json_client_gets_a_json_404(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_the_money_filter_shows_hong_kong_dollars(app):
    with app.test_request_context():
        money = app.jinja_env.filters["money"]
        assert money(123450) == "HK$1,234.50"
        assert money(None) == ""


def test_the_stylesheets_and_icons_are_served_locally(client):
    for path in ("/static/common/base.css", "/static/shop/shop.css", "/static/shop/logo.svg", "/static/shop/hero.svg"):
        assert client.get(path).status_code == 200, path
    css = client.get("/static/common/base.css").get_data(as_text=True)
    assert ":focus-visible" in css and ".skip-link" in css
    assert "@import" not in css and "//" not in css.replace("/*", "").replace("*/", "")
