"""Visitors' catalogue pages come from the worker's cache, and never show a catalogue older than the last order."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import template_rendered

from shop.extensions import db
from shop.models import Product

from .conftest import close_app, make_app
from .support import statements_during

PRODUCT = "/product/jasmine-rice-5kg"


@pytest.fixture
def csrf_app(tmp_path):
    """The shop with CSRF on, as it runs: cached pages must carry each visitor's own token."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    yield app
    close_app(app)


@pytest.fixture
def renders(app):
    """The names of the templates rendered while the test runs."""
    rendered: list[str] = []

    def record(_sender, template, context, **_extra) -> None:
        rendered.append(template.name)

    template_rendered.connect(record, app)
    yield rendered
    template_rendered.disconnect(record, app)


def set_stock(app, slug: str, stock: int) -> None:
    with app.app_context():
        db.session.execute(sa.update(Product).where(Product.slug == slug).values(stock=stock))
        db.session.commit()


@pytest.mark.parametrize("path", ["/", "/category/supermarket", "/search?q=rice", PRODUCT])
def test_a_second_visitor_gets_the_same_page_without_a_render(app, renders, path):
    first = app.test_client().get(path)
    rendered_once = len(renders)
    second = app.test_client().get(path)
    assert first.status_code == second.status_code == 200
    assert rendered_once > 0 and len(renders) == rendered_once
    assert second.get_data(as_text=True) == first.get_data(as_text=True)


def test_a_stock_change_shows_at_once(app, client):
    assert "Only 3 left in stock" not in client.get(PRODUCT).get_data(as_text=True)
    set_stock(app, "jasmine-rice-5kg", 3)
    assert "Only 3 left in stock" in client.get(PRODUCT).get_data(as_text=True)
    set_stock(app, "jasmine-rice-5kg", 0)
    assert "This item is sold out for now" in client.get(PRODUCT).get_data(as_text=True)


def test_a_price_change_shows_at_once(app, client):
    assert "HK$1,234.50" not in client.get(PRODUCT).get_data(as_text=True)
    with app.app_context():
        db.session.execute(sa.update(Product).where(Product.slug == "jasmine-rice-5kg").values(price_cents=123_450))
        db.session.commit()
    assert "HK$1,234.50" in client.get(PRODUCT).get_data(as_text=True)


def test_a_cached_page_runs_nothing_through_the_orm_session(app, renders):
    """The version check is the only database work of a hit: no BEGIN, no ORM session, no ROLLBACK."""
    app.test_client().get(PRODUCT)
    rendered = len(renders)
    answers = []
    statements = statements_during(app, lambda: answers.append(app.test_client().get(PRODUCT)))
    assert answers[0].status_code == 200
    assert len(renders) == rendered  # a hit
    # The check runs on the driver's cursor, below SQLAlchemy's events: the session ran nothing at all.
    assert statements == []


def test_different_queries_are_different_pages(client):
    rice = client.get("/search?q=rice").get_data(as_text=True)
    headphones = client.get("/search?q=headphones").get_data(as_text=True)
    assert rice != headphones and "rice" in rice.lower() and "headphones" in headphones.lower()


def test_signed_in_shoppers_and_visitors_with_a_cart_are_rendered_afresh(app, client, shopper, renders):
    app.test_client().get("/")  # cached for visitors
    shopper.sign_in()
    before = len(renders)
    page = client.get("/").get_data(as_text=True)
    assert len(renders) > before and "Chan Tai Man" in page

    visitor = app.test_client()
    with app.app_context():
        rice = db.session.scalar(sa.select(Product).where(Product.slug == "jasmine-rice-5kg"))
    visitor.post("/cart/add", data={"product_id": rice.id, "quantity": "1"})
    before = len(renders)
    visitor.get("/")
    assert len(renders) > before


def test_a_missing_product_is_not_kept(app, renders):
    assert app.test_client().get("/product/no-such-thing").status_code == 404
    before = len(renders)
    assert app.test_client().get("/product/no-such-thing").status_code == 404
    assert len(renders) > before


def test_each_visitor_gets_a_csrf_token_of_their_own_session_and_can_add_to_the_cart(csrf_app):
    tokens = []
    for _ in range(2):
        visitor = csrf_app.test_client()
        page = visitor.get(PRODUCT).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        product_id = re.search(r'name="product_id" type="hidden" value="(\d+)"', page).group(1)
        tokens.append(token)
        added = visitor.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": "1"})
        assert added.status_code == 302
        assert "Jasmine" in visitor.get("/cart").get_data(as_text=True)
    assert tokens[0] != tokens[1]
