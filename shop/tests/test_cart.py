"""The cart through the shop's pages: add, update, remove, stock limits, totals and the way to checkout."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from shop.cart.rules import Cart, clear_cart, current_cart
from shop.extensions import db
from shop.models import Product


def product_by_slug(app, slug: str) -> Product:
    with app.app_context():
        product = db.session.scalar(sa.select(Product).where(Product.slug == slug))
        db.session.expunge(product)
        return product


def set_stock(app, slug: str, stock: int) -> None:
    with app.app_context():
        db.session.execute(sa.update(Product).where(Product.slug == slug).values(stock=stock))
        db.session.commit()


def add(client, product: Product, quantity: int | str = 1, **extra):
    return client.post("/cart/add", data={"product_id": product.id, "quantity": quantity, **extra})


def cart_text(client) -> str:
    return client.get("/cart").get_data(as_text=True)


def session_cart(client) -> dict:
    with client.session_transaction() as session:
        return dict(session.get("cart", {}))


@pytest.fixture
def rice(app):
    return product_by_slug(app, "jasmine-rice-5kg")  # HK$89.90, plenty in stock


@pytest.fixture
def headphones(app):
    return product_by_slug(app, "noise-cancelling-headphones")  # HK$2,299.00, 2 in stock


def test_an_empty_cart_says_so_and_offers_no_checkout(client):
    page = cart_text(client)
    assert "Your cart is empty" in page
    assert 'href="/checkout"' not in page


def test_adding_a_product_puts_it_in_the_cart_with_its_price(client, rice):
    response = add(client, rice, 2)
    assert response.status_code == 302
    assert response.location.endswith("/cart")
    page = cart_text(client)
    assert "Added 2 × Thai Hom Mali Jasmine Rice 5kg to your cart." in page
    assert "HK$179.80" in page
    assert session_cart(client) == {str(rice.id): 2}


def test_adding_the_same_product_again_adds_to_its_quantity(client, rice):
    add(client, rice, 2)
    add(client, rice, 3)
    assert session_cart(client) == {str(rice.id): 5}


def test_the_header_shows_how_many_items_are_in_the_cart(client, rice):
    add(client, rice, 3)
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="cart-count">3<', page)


def test_delivery_is_charged_under_hk500_and_the_page_says_how_much_more_ships_free(client, rice):
    add(client, rice, 1)
    page = cart_text(client)
    assert re.search(r'data-testid="delivery-fee">HK\$40.00<', page)
    assert re.search(r'data-testid="total">HK\$129.90<', page)
    assert "Add HK$410.10 more for free delivery." in page


def test_delivery_is_free_from_hk500(client, rice):
    add(client, rice, 6)  # HK$539.40
    page = cart_text(client)
    assert re.search(r'data-testid="delivery-fee">Free<', page)
    assert re.search(r'data-testid="total">HK\$539.40<', page)


def test_adding_more_than_the_stock_is_refused_with_a_clear_message(client, headphones):
    add(client, headphones, 2)
    response = add(client, headphones, 1)
    assert response.status_code == 302
    page = cart_text(client)
    assert "Only 2 of Wireless Noise-Cancelling Headphones left in stock. You already have 2 in your cart." in page
    assert session_cart(client) == {str(headphones.id): 2}


def test_a_sold_out_product_cannot_be_added(app, client):
    tram = product_by_slug(app, "ding-ding-tram-model")
    add(client, tram, 1)
    assert "Sorry, Ding Ding Tram Model Kit is sold out." in cart_text(client)
    assert session_cart(client) == {}


@pytest.mark.parametrize(("quantity", "message"), [(0, "Choose between 1 and 20."), ("lots", "Not a valid integer")])
def test_adding_a_bad_quantity_is_refused(client, rice, quantity, message):
    add(client, rice, quantity)
    assert message in cart_text(client)
    assert session_cart(client) == {}


def test_adding_an_unknown_product_is_refused(client):
    client.post("/cart/add", data={"product_id": 99999, "quantity": 1})
    assert "That product is no longer available." in cart_text(client)


def test_a_failed_add_goes_back_to_the_product_page(client, headphones):
    response = add(client, headphones, 5, next="/product/noise-cancelling-headphones")
    assert response.location.endswith("/product/noise-cancelling-headphones")


def test_a_failed_add_never_redirects_off_site(client, headphones):
    response = add(client, headphones, 5, next="//evil.example/")
    assert response.location.endswith("/cart")


def test_updating_a_quantity_changes_the_line_and_the_totals(client, rice):
    add(client, rice, 1)
    client.post(f"/cart/update/{rice.id}", data={"quantity": 4})
    page = cart_text(client)
    assert "Quantity updated." in page
    assert "HK$359.60" in page
    assert session_cart(client) == {str(rice.id): 4}


def test_updating_a_quantity_to_zero_removes_the_line(client, rice):
    add(client, rice, 1)
    client.post(f"/cart/update/{rice.id}", data={"quantity": 0})
    assert "Removed from your cart." in cart_text(client)
    assert session_cart(client) == {}


def test_updating_above_the_stock_keeps_the_old_quantity_and_explains(client, headphones):
    add(client, headphones, 1)
    client.post(f"/cart/update/{headphones.id}", data={"quantity": 3})
    assert "Only 2 of Wireless Noise-Cancelling Headphones left in stock." in cart_text(client)
    assert session_cart(client) == {str(headphones.id): 1}


@pytest.mark.parametrize(("quantity", "message"), [(-1, "Choose between 0 and 20."), (21, "Choose between 0 and 20.")])
def test_updating_to_an_out_of_range_quantity_is_refused(client, rice, quantity, message):
    add(client, rice, 1)
    client.post(f"/cart/update/{rice.id}", data={"quantity": quantity})
    assert message in cart_text(client)
    assert session_cart(client) == {str(rice.id): 1}


def test_removing_a_line_leaves_the_rest(client, rice, headphones):
    add(client, rice, 1)
    add(client, headphones, 1)
    client.post(f"/cart/remove/{rice.id}")
    assert session_cart(client) == {str(headphones.id): 1}


def test_stock_that_ran_out_after_adding_is_flagged_and_blocks_checkout(app, client, headphones):
    add(client, headphones, 2)
    set_stock(app, "noise-cancelling-headphones", 1)
    page = cart_text(client)
    assert "Only 1 of Wireless Noise-Cancelling Headphones left: lower the quantity to check out." in page
    assert 'href="/checkout"' not in page
    assert "Fix the items marked above to check out." in page


def test_a_product_that_sold_out_after_adding_is_flagged(app, client, rice):
    add(client, rice, 1)
    set_stock(app, "jasmine-rice-5kg", 0)
    assert "Thai Hom Mali Jasmine Rice 5kg has sold out. Remove it to check out." in cart_text(client)


def test_a_product_no_longer_sold_drops_out_of_the_cart_with_a_message(app, client, rice):
    add(client, rice, 1)
    with client.session_transaction() as session:
        session["cart"] = {str(rice.id): 1, "99999": 2}
    page = cart_text(client)
    assert "An item in your cart is no longer sold and was removed." in page
    assert session_cart(client) == {str(rice.id): 1}


def test_a_malformed_session_cart_is_ignored(client):
    with client.session_transaction() as session:
        session["cart"] = {"abc": 1, "1": "x", "2": -3}
    assert "Your cart is empty" in cart_text(client)


def test_a_cart_that_can_be_bought_links_to_checkout(client, rice):
    add(client, rice, 1)
    page = cart_text(client)
    assert re.search(r'<a class="button[^"]*" href="/checkout">Checkout</a>', page)


def test_checkout_sends_a_signed_out_shopper_to_sign_in_and_back(app, client, rice):
    add(client, rice, 1)
    response = client.get("/checkout")
    assert response.status_code == 302
    assert "/account/sign-in?next=/checkout" in response.location


def test_the_cart_survives_signing_in(client, shopper, rice):
    add(client, rice, 2)
    shopper.sign_in()
    assert session_cart(client) == {str(rice.id): 2}


def test_current_cart_and_clear_cart_work_on_the_session(app, rice):
    with app.test_request_context():
        from flask import session

        session["cart"] = {str(rice.id): 2}
        cart = current_cart()
        assert isinstance(cart, Cart)
        assert (cart.item_count, cart.subtotal_cents, cart.delivery_fee_cents, cart.total_cents) == (
            2,
            17980,
            4000,
            21980,
        )
        assert cart.lines[0].product.name == "Thai Hom Mali Jasmine Rice 5kg"
        clear_cart()
        assert current_cart().is_empty
        assert "cart" not in session
