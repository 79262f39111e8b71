"""The header every page shares, after its reads were made cheaper: it still shows what the database says now."""

from __future__ import annotations

import sqlalchemy as sa
from flask import g

from shop.extensions import db
from shop.models import Category, Product, User


def _nav(page: str) -> str:
    return page.split('class="category-nav__list', 1)[1].split("</ul>", 1)[0]


def test_the_signed_in_shopper_is_read_without_the_password_hash(app, client, shopper):
    shopper.sign_in()
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "chan.taiman@example.com"))
        expected = (user.id, user.name, user.phone, user.customer_reference)
    with client:  # keeps the request's context, and so its g, until the block ends
        client.get("/orders")
        assert (g.user.id, g.user.name, g.user.phone, g.user.customer_reference) == expected
        assert g.user.greeting_name == "Chan" and g.user.is_staff is False
        assert not hasattr(g.user, "password_hash")


def test_a_renamed_shopper_is_greeted_by_the_new_name_on_the_next_page(app, client, shopper):
    shopper.sign_in()
    assert "Hi, Chan" in client.get("/orders").get_data(as_text=True)
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == "chan.taiman@example.com").values(name="Tai Man"))
        db.session.commit()
    assert "Hi, Tai" in client.get("/orders").get_data(as_text=True)


def test_a_staff_account_is_greeted_by_its_mailbox(client, shopper):
    shopper.sign_in("ops@harbourmall.example")
    assert "Hi, Ops" in client.get("/orders").get_data(as_text=True)


def test_a_deleted_account_reads_as_signed_out(app, client, shopper):
    shopper.sign_in("wong.siuming@example.com")
    with app.app_context():
        db.session.execute(sa.delete(User).where(User.email == "wong.siuming@example.com"))
        db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "Hi, Wong" not in page
    assert "Sign in" in page


def test_the_signed_out_header_offers_sign_in_and_no_greeting(client):
    page = client.get("/").get_data(as_text=True)
    assert "Sign in" in page and "Create account" in page
    assert "Hi, " not in page


def test_a_renamed_or_added_category_shows_in_the_nav_on_the_next_page(app, client, shopper):
    shopper.sign_in()
    before = _nav(client.get("/orders").get_data(as_text=True))
    with app.app_context():
        first = db.session.scalars(sa.select(Category).order_by(Category.position)).first()
        old_name = first.name
        first.name = "Renamed Aisle"
        db.session.add(Category(slug="new-aisle", name="New Aisle", name_zh="新貨架", position=999))
        db.session.commit()
    assert old_name in before and "Renamed Aisle" not in before
    after = _nav(client.get("/orders").get_data(as_text=True))
    assert "Renamed Aisle" in after and old_name not in after
    assert 'href="/category/new-aisle"' in after and "New Aisle" in after
    client.set_cookie("lang", "zh_Hant_HK")
    assert "新貨架" in _nav(client.get("/orders").get_data(as_text=True))


AMOUNTS_CENTS = (0, 1, -1, 5, 99, 100, -100, 123450, -123450, 100000000, 99999999999, 2_000_000_00)


def test_money_and_numbers_read_exactly_as_babel_writes_them_in_both_languages(app):
    from decimal import Decimal

    from babel.numbers import format_currency, format_decimal

    filters = app.jinja_env.filters
    for locale in ("en", "zh_Hant_HK", "en", "zh_Hant_HK"):  # twice: the second round is served from memory
        with app.test_request_context("/", headers={"Cookie": f"lang={locale}"}):
            for currency in ("HKD", "USD"):  # the worker's memory must not mix currencies either
                app.config["CURRENCY_CODE"] = currency
                for cents in AMOUNTS_CENTS:
                    expected = format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)
                    assert filters["money"](cents) == expected, (locale, currency, cents)
            for value in (0, 7, -7, 1000, 120000, -120000, 2_000_000):
                assert filters["number"](value) == format_decimal(value, locale=locale)
    with app.test_request_context("/"):
        app.config["CURRENCY_CODE"] = "HKD"
        assert filters["money"](-123450) == "-HK$1,234.50"
        assert filters["money"](None) == "" and filters["number"](None) == ""


def _header_count(page: str) -> int:
    return int(page.split('data-testid="cart-count">', 1)[1].split("<", 1)[0])


def test_the_header_counts_sold_out_lines_and_drops_products_no_longer_sold(app, client, shopper):
    from .support import make_product

    shopper.sign_in()
    with app.app_context():
        kept, sold_out = make_product("T-KEPT", 1000).id, make_product("T-SOLD-OUT", 2000, stock=5).id
    client.post("/cart/add", data={"product_id": kept, "quantity": 2})
    client.post("/cart/add", data={"product_id": sold_out, "quantity": 3})
    assert _header_count(client.get("/orders").get_data(as_text=True)) == 5
    with app.app_context():
        db.session.get(Product, sold_out).stock = 0
        db.session.commit()
    assert _header_count(client.get("/orders").get_data(as_text=True)) == 5  # still in the cart, to be removed
    with client.session_transaction() as session:
        session["cart"] = {**session["cart"], "99999": 4}
    assert _header_count(client.get("/orders").get_data(as_text=True)) == 5
    with client.session_transaction() as session:
        assert session["cart"] == {str(kept): 2, str(sold_out): 3}  # the gone product left the session
    page = client.get("/cart").get_data(as_text=True)
    assert _header_count(page) == 5
    client.post("/cart/add", data={"product_id": kept, "quantity": 1})
    assert _header_count(client.get("/").get_data(as_text=True)) == 6
