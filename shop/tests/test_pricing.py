"""Pricing rules and the pure cart rules: subtotal, delivery fee, money formatting, stock limits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shop.cart import pricing
from shop.cart.rules import (
    MAX_QUANTITY_PER_LINE,
    InvalidQuantity,
    NotEnoughStock,
    ProductUnavailable,
    add_item,
    parse_quantity,
    price_contents,
    remove_item,
    set_item_quantity,
)


def product(product_id: int = 1, *, price: int = 1000, stock: int = 10, name: str = "Soy Sauce"):
    return SimpleNamespace(id=product_id, price_cents=price, stock=stock, name=name)


@pytest.mark.parametrize(
    ("subtotal", "fee"),
    [
        (0, 0),  # an empty cart ships nothing
        (1, 4000),
        (49999, 4000),
        (50000, 0),  # free from exactly HK$500
        (50001, 0),
        (1_000_000, 0),
    ],
)
def test_delivery_is_hk40_below_hk500_and_free_from_it(subtotal, fee):
    assert pricing.delivery_fee_cents(subtotal) == fee


def test_delivery_fee_uses_the_configured_fee_and_threshold():
    assert pricing.delivery_fee_cents(9000, fee_cents=2500, free_threshold_cents=10000) == 2500
    assert pricing.delivery_fee_cents(10000, fee_cents=2500, free_threshold_cents=10000) == 0


@pytest.mark.parametrize(
    ("lines", "subtotal"),
    [
        ([], 0),
        ([(8990, 1)], 8990),
        ([(8990, 2), (2450, 3)], 25330),
        ([(1, 20), (99999, 1)], 100019),
    ],
)
def test_subtotal_is_the_sum_of_unit_price_times_quantity(lines, subtotal):
    assert pricing.subtotal_cents(lines) == subtotal


@pytest.mark.parametrize(
    ("price", "quantity", "message"),
    [(-1, 1, "negative"), (100, -2, "negative"), (10.5, 1, "whole numbers"), (100, "2", "whole numbers")],
)
def test_line_totals_refuse_negative_and_fractional_amounts(price, quantity, message):
    with pytest.raises(pricing.PricingError, match=message):
        pricing.line_total_cents(price, quantity)


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "HK$0.00"),
        (5, "HK$0.05"),
        (8990, "HK$89.90"),
        (123450, "HK$1,234.50"),
        (100000000, "HK$1,000,000.00"),
        (-4000, "-HK$40.00"),
    ],
)
def test_money_is_shown_in_hong_kong_dollars_with_separators(cents, text):
    assert pricing.format_money(cents) == text


def test_money_formatting_refuses_floats():
    with pytest.raises(pricing.PricingError, match="whole cents"):
        pricing.format_money(12.5)


@pytest.mark.parametrize(("subtotal", "missing"), [(0, 50000), (45000, 5000), (50000, 0), (70000, 0)])
def test_amount_to_free_delivery_counts_down_to_zero(subtotal, missing):
    assert pricing.amount_to_free_delivery_cents(subtotal) == missing


@pytest.mark.parametrize(
    ("value", "expected"), [("1", 1), (" 3 ", 3), (str(MAX_QUANTITY_PER_LINE), MAX_QUANTITY_PER_LINE)]
)
def test_quantities_typed_by_the_shopper_are_parsed(value, expected):
    assert parse_quantity(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "whole number"),
        ("two", "whole number"),
        ("1.5", "whole number"),
        ("0", "at least 1"),
        ("-1", "at least 1"),
        (str(MAX_QUANTITY_PER_LINE + 1), "at most"),
    ],
)
def test_bad_quantities_are_refused_with_a_reason(value, message):
    with pytest.raises(InvalidQuantity, match=message):
        parse_quantity(value)


def test_adding_an_item_adds_to_what_is_already_in_the_cart():
    assert add_item({1: 2}, product(stock=10), 3) == {1: 5}


def test_adding_more_than_the_stock_is_refused_and_says_how_many_are_left():
    with pytest.raises(NotEnoughStock, match="Only 4 of Soy Sauce left") as error:
        add_item({1: 3}, product(stock=4), 2)
    assert error.value.available == 4


def test_adding_a_sold_out_item_is_refused():
    with pytest.raises(NotEnoughStock, match="sold out"):
        add_item({}, product(stock=0), 1)


def test_adding_an_unknown_product_is_refused():
    with pytest.raises(ProductUnavailable, match="no longer available"):
        add_item({}, None, 1)


def test_a_line_cannot_grow_beyond_the_per_line_limit_even_with_stock():
    with pytest.raises(InvalidQuantity, match="at most"):
        add_item({1: MAX_QUANTITY_PER_LINE}, product(stock=1000), 1)


def test_setting_a_quantity_to_zero_removes_the_line():
    assert set_item_quantity({1: 2, 2: 1}, product(1), 0) == {2: 1}


def test_setting_a_quantity_above_stock_is_refused():
    with pytest.raises(NotEnoughStock, match="Only 3"):
        set_item_quantity({1: 1}, product(stock=3), 4)


def test_removing_a_line_leaves_the_others():
    assert remove_item({1: 2, 2: 1}, 1) == {2: 1}


def test_a_priced_cart_has_subtotal_delivery_total_and_item_count():
    cart = price_contents({1: 2, 2: 1}, {1: product(1, price=8990), 2: product(2, price=2450)})
    assert (cart.subtotal_cents, cart.delivery_fee_cents, cart.total_cents) == (20430, 4000, 24430)
    assert cart.item_count == 3
    assert cart.can_check_out
    assert [line.line_total_cents for line in cart.lines] == [17980, 2450]


def test_a_priced_cart_over_the_threshold_ships_free():
    cart = price_contents({1: 1}, {1: product(price=50000)})
    assert cart.delivery_fee_cents == 0
    assert cart.total_cents == 50000


def test_stock_problems_are_reported_and_block_checkout():
    products = {1: product(1, stock=2, name="Tram"), 2: product(2, stock=0, name="Kite")}
    cart = price_contents({1: 3, 2: 1, 3: 1}, products)
    kinds = {problem.product_id: problem.kind for problem in cart.problems}
    assert kinds == {1: "above_stock", 2: "sold_out", 3: "gone"}
    assert cart.problem_for(1).available == 2
    assert not cart.can_check_out
    assert [line.product.id for line in cart.lines] == [1, 2]


def test_an_empty_cart_is_empty_and_cannot_check_out():
    cart = price_contents({}, {})
    assert cart.is_empty
    assert not cart.can_check_out
    assert (cart.subtotal_cents, cart.delivery_fee_cents, cart.total_cents, cart.item_count) == (0, 0, 0, 0)
