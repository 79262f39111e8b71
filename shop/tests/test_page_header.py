"""Parts of pages each worker keeps or reads more cheaply (header, footer, cards, districts) still show what the
database and the shopper's language say now."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import g

from shop.extensions import db
from shop.models import Category, Product, User

from .conftest import close_app, make_app


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


# --- the layout parts each worker keeps (shop/templating.py's Fragments) ---------------------------------------


def _hidden_value(page: str, form_class: str, name: str) -> str:
    form = page.split(f'class="{form_class}"', 1)[1].split("</form>", 1)[0]
    return re.search(rf'name="{name}" type="hidden" value="([^"]*)"', form).group(1)


def test_each_session_gets_its_own_csrf_token_in_the_kept_header_forms(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    try:
        tokens = []
        for email in ("chan.taiman@example.com", "wong.siuming@example.com"):
            client = app.test_client()
            sign_in = client.get("/account/sign-in").get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', sign_in).group(1)
            client.post("/account/sign-in", data={"email": email, "password": "demo1234", "csrf_token": token})
            page = client.get("/orders").get_data(as_text=True)
            sign_out, language = (
                _hidden_value(page, "inline-form", "csrf_token"),
                _hidden_value(page, "language-switch", "csrf_token"),
            )
            assert sign_out == language and "\ue000" not in page
            assert (
                client.post("/language", data={"lang": "zh_Hant_HK", "next": "/", "csrf_token": language}).status_code
                == 302
            )
            assert "登出" in client.get("/orders").get_data(as_text=True)  # the kept Chinese header
            tokens.append(language)
            assert client.post("/account/sign-out", data={"csrf_token": sign_out}).status_code == 302
            assert "Hi, " not in client.get("/").get_data(as_text=True)
        assert tokens[0] != tokens[1]
    finally:
        close_app(app)


def test_the_language_switch_comes_back_to_this_page_and_marks_the_language_in_use(client, shopper):
    shopper.sign_in()
    for path, written in [
        ("/orders", "/orders"),
        ("/search?q=rice&sort=price", "/search?q=rice&amp;sort=price"),
        ("/search?q=%22soy%22", "/search?q=%22soy%22"),
        ("/cart", "/cart"),
    ]:
        assert _hidden_value(client.get(path).get_data(as_text=True), "language-switch", "next") == written
    assert 'lang="en"\n                      aria-current="true">English' in client.get("/").get_data(as_text=True)
    client.set_cookie("lang", "zh_Hant_HK")
    page = client.get("/orders").get_data(as_text=True)
    assert 'aria-current="true">繁' in page and 'aria-current="true">English' not in page
    assert "我的訂單" in page and "My orders" not in page


def test_the_search_box_shows_this_requests_query_escaped(client):
    assert 'value="&lt;b&gt;rice&#34;"' in client.get("/search?q=<b>rice%22").get_data(as_text=True)
    assert 'name="q"\n               value=""' in client.get("/search?q=").get_data(as_text=True)


def test_the_footer_follows_the_delivery_settings(app, client):
    assert "Free delivery on orders from HK$500.00" in client.get("/").get_data(as_text=True)
    app.config["FREE_DELIVERY_THRESHOLD_CENTS"] = 45_000
    assert "Free delivery on orders from HK$450.00" in client.get("/account/sign-in").get_data(as_text=True)


def test_the_cart_link_says_item_or_items_by_the_count(app, client, shopper):
    from .support import make_product

    shopper.sign_in()
    with app.app_context():
        product_id = make_product("T-COUNT", 1000).id
    client.post("/cart/add", data={"product_id": product_id, "quantity": 1})
    assert "1 item</span>" in client.get("/orders").get_data(as_text=True)
    client.post("/cart/add", data={"product_id": product_id, "quantity": 1})
    assert "2 items</span>" in client.get("/orders").get_data(as_text=True)


def test_the_category_page_marks_its_own_category_in_the_nav(client):
    page = _nav(client.get("/category/supermarket").get_data(as_text=True))
    assert re.search(r'href="/category/supermarket"\s+aria-current="page"', page)
    assert page.count('aria-current="page"') == 1
    assert 'aria-current="page"' not in _nav(client.get("/cart").get_data(as_text=True))


def test_a_page_whose_address_holds_a_control_character_switches_language_back_home(client):
    response = client.get("/product/rice%00")
    assert response.status_code == 400
    assert _hidden_value(response.get_data(as_text=True), "language-switch", "next") == ""


def _card(page: str, slug: str) -> str:
    return page.split(f'href="/product/{slug}"', 1)[1].split("</article>", 1)[0]


def test_a_kept_product_card_shows_a_new_price_stock_name_and_category_name_at_once(app, client, shopper):
    shopper.sign_in()  # signed in: the page itself is rendered every time, only its cards may be kept
    slug = "jasmine-rice-5kg"
    first = _card(client.get("/category/supermarket").get_data(as_text=True), slug)
    assert "Thai Hom Mali Jasmine Rice 5kg" in first and "Only" not in first
    with app.app_context():
        product = db.session.scalar(sa.select(Product).where(Product.slug == slug))
        product.price_cents, product.stock, product.name = 12_345, 2, "Jasmine Rice (new bag)"
        product.category.name = "Groceries"
        db.session.commit()
    card = _card(client.get("/category/supermarket").get_data(as_text=True), slug)
    assert "HK$123.45" in card and "Only 2 left" in card and "Jasmine Rice (new bag)" in card and "Groceries" in card
    with app.app_context():
        db.session.execute(sa.update(Product).where(Product.slug == slug).values(stock=0))
        db.session.commit()
    card = _card(client.get("/category/supermarket").get_data(as_text=True), slug)
    assert "Sold out" in card and "Only 2 left" not in card
    client.set_cookie("lang", "zh_Hant_HK")
    card = _card(client.get("/category/supermarket").get_data(as_text=True), slug)
    assert "已售罄" in card and "Sold out" not in card


def test_the_delivery_forms_districts_are_named_in_each_shoppers_language(app, client, shopper):
    from .support import make_product

    shopper.sign_in()
    with app.app_context():
        product_id = make_product("T-DISTRICT", 1000).id
    client.post("/cart/add", data={"product_id": product_id, "quantity": 1})
    for language, wan_chai, choose in [("en", "Wan Chai", "Choose a district"), ("zh_Hant_HK", "灣仔區", None)] * 2:
        client.set_cookie("lang", language)
        select = client.get("/checkout").get_data(as_text=True).split('name="district"', 1)[1].split("</select>")[0]
        assert f'<option value="Wan Chai">{wan_chai}</option>' in select, language
        assert select.count("<option") == 19
        if choose:
            assert f'<option selected value="">{choose}</option>' in select or f">{choose}</option>" in select
    client.set_cookie("lang", "en")
    response = client.post(
        "/checkout", data={"name": "A", "phone": "91234567", "address": "1 Road", "district": "Mars"}
    )
    assert response.status_code == 200 and "Choose a district." in response.get_data(as_text=True)  # not an order
