"""The catalogue as data: shop/data/catalogue.toml, its loader's checks and what it holds."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from shop.catalog_data import (
    CATALOGUE_FILE,
    CATEGORIES,
    FEATURED_SKUS,
    POPULAR_SEARCHES,
    PRODUCTS,
    CatalogueError,
    load_catalogue,
)

GOOD = """
featured = ["SM-001"]
popular_searches = ["rice"]
popular_searches_zh = ["香米"]

[[categories]]
slug = "supermarket"
name = "Supermarket"
name_zh = "超級市場"
tagline = "Rice and more"
tagline_zh = "白米及更多"
colour = "#d9480f"

[[products]]
sku = "SM-001"
slug = "jasmine-rice-5kg"
name = "Jasmine Rice 5kg"
name_zh = "茉莉香米 5公斤"
category = "supermarket"
price_cents = 8990
stock = 60
icon = "sack"
description = "Fragrant long-grain jasmine rice."
description_zh = "長粒茉莉香米。"

[[products]]
sku = "SM-002"
slug = "soy-sauce"
name = "Soy Sauce"
name_zh = "生抽"
category = "supermarket"
price_cents = 1590
stock = 3
icon = "bottle"
description = "Naturally brewed light soy sauce."
description_zh = "天然釀造生抽。"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(text)
    return path


def test_the_shipped_file_holds_todays_catalogue():
    assert CATALOGUE_FILE.name == "catalogue.toml" and CATALOGUE_FILE.parent.name == "data"
    assert len(PRODUCTS) == 49
    assert [category.slug for category in CATEGORIES] == [
        "supermarket",
        "household",
        "beauty",
        "electronics",
        "toys",
        "sports",
    ]
    by_sku = {product.sku: product for product in PRODUCTS}
    rice = by_sku["SM-001"]
    assert (rice.name, rice.category, rice.price_cents, rice.stock, rice.image) == (
        "Thai Hom Mali Jasmine Rice 5kg",
        "supermarket",
        8990,
        60,
        "shop/products/jasmine-rice-5kg.svg",
    )
    assert (by_sku["EL-005"].name, by_sku["EL-005"].price_cents) == ("Octopus Card Holder with Lanyard", 8900)
    assert (by_sku["SP-008"].price_cents, by_sku["SP-008"].stock) == (45800, 3)
    assert [product.sku for product in PRODUCTS if product.stock == 0] == ["TG-001"]
    assert CATEGORIES[2].name == "Beauty & Care" and CATEGORIES[2].colour == "#c2255c"
    assert FEATURED_SKUS == ("SM-001", "EL-005", "SM-004", "EL-001", "TG-002", "SP-001", "BC-002", "HH-003")
    assert POPULAR_SEARCHES[0] == "rice" and len(POPULAR_SEARCHES) == 8


def test_every_price_in_the_file_is_whole_cents_not_a_float():
    raw = tomllib.loads(CATALOGUE_FILE.read_text())
    assert all(type(product["price_cents"]) is int for product in raw["products"])
    assert all(type(product.price_cents) is int for product in PRODUCTS)


def test_a_good_file_loads_into_typed_entries(tmp_path):
    catalogue = load_catalogue(write(tmp_path, GOOD))
    assert [product.sku for product in catalogue.products] == ["SM-001", "SM-002"]
    assert catalogue.products[1].price_cents == 1590
    assert catalogue.featured == ("SM-001",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("price_cents = 1590", 'price_cents = "15.90"'),
            r"product 2 \(SM-002\): price_cents: Input should be a valid integer",
        ),
        (
            ("price_cents = 1590", "price_cents = 15.9"),
            r"product 2 \(SM-002\): price_cents: Input should be a valid integer",
        ),
        (
            ("price_cents = 1590", "price_cents = 0"),
            r"product 2 \(SM-002\): price_cents: Input should be greater than 0",
        ),
        (("stock = 3", "stock = -1"), r"product 2 \(SM-002\): stock: Input should be greater than or equal to 0"),
        (("stock = 3", 'stock = 3\ncolour = "red"'), r"product 2 \(SM-002\): colour: Extra inputs are not permitted"),
        (('sku = "SM-002"', 'sku = "SM-001"'), r"product SKU 'SM-001' appears twice"),
        (('slug = "soy-sauce"', 'slug = "Soy Sauce"'), r"product 2 \(SM-002\): slug: String should match pattern"),
        (
            ('category = "supermarket"\nprice_cents = 1590', 'category = "food"\nprice_cents = 1590'),
            r"product SM-002: category 'food' is not in \[\[categories\]\]",
        ),
        (('featured = ["SM-001"]', 'featured = ["XX-404"]'), r"featured: 'XX-404' is not the SKU of a product"),
        (('colour = "#d9480f"', 'colour = "orange"'), r"category 1 \(supermarket\): colour: String should match"),
        (('icon = "bottle"\n', ""), r"product 2 \(SM-002\): icon: Field required"),
        (('name_zh = "生抽"\n', ""), r"product 2 \(SM-002\): name_zh: Field required"),
        (('description_zh = "天然釀造生抽。"', 'description_zh = ""'), r"product 2 \(SM-002\): description_zh: String"),
        (('name_zh = "超級市場"\n', ""), r"category 1 \(supermarket\): name_zh: Field required"),
        (("price_cents = 1590", "price_cents = "), r"Invalid value \(at line \d+"),
    ],
)
def test_a_wrong_entry_is_refused_with_a_message_naming_it(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(CatalogueError, match=rf"^catalogue\.toml: (.*; )?{message}"):
        load_catalogue(write(tmp_path, GOOD.replace(old, new, 1)))


def test_a_missing_file_is_a_catalogue_error(tmp_path):
    with pytest.raises(CatalogueError, match="catalogue.toml: .*No such file"):
        load_catalogue(tmp_path / "catalogue.toml")
