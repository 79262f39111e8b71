"""The catalogue: seeded data, home, category and product pages."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
import sqlalchemy as sa

from shop.catalog_data import CATEGORIES, FEATURED_SKUS, PRODUCTS
from shop.extensions import db
from shop.models import Category, Product
from shop.seed import seed_database

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_the_catalogue_has_at_least_48_products_in_at_least_6_categories(app):
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Product.id))) >= 48
        counts = db.session.execute(
            sa.select(Category.slug, sa.func.count(Product.id)).join(Product).group_by(Category.slug)
        ).all()
    assert len(counts) >= 6
    assert {slug for slug, _ in counts} >= {"supermarket", "household", "beauty", "electronics", "toys", "sports"}
    assert all(count >= 6 for _, count in counts)


def test_every_product_has_a_price_in_cents_stock_a_description_and_a_local_image():
    for product in PRODUCTS:
        assert isinstance(product.price_cents, int) and product.price_cents > 0, product.sku
        assert product.stock >= 0
        assert 20 <= len(product.description) <= 200, product.sku
        image = STATIC / product.image
        assert image.is_file(), image
        svg = image.read_text()
        assert svg.startswith("<svg") and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in svg


def test_the_catalogue_has_low_stock_and_sold_out_products_for_the_stock_rules():
    assert sum(1 for product in PRODUCTS if product.stock == 0) == 1
    assert sum(1 for product in PRODUCTS if 0 < product.stock <= 5) >= 3


def test_skus_and_slugs_are_unique_and_categories_exist():
    assert len({p.sku for p in PRODUCTS}) == len({p.slug for p in PRODUCTS}) == len(PRODUCTS)
    assert {p.category for p in PRODUCTS} <= {c.slug for c in CATEGORIES}
    assert set(FEATURED_SKUS) <= {p.sku for p in PRODUCTS}


def test_seeding_again_creates_nothing_and_keeps_changed_stock(app):
    with app.app_context():
        product = db.session.scalar(sa.select(Product).where(Product.sku == "SM-001"))
        product.stock = 7
        db.session.commit()
        assert seed_database() is False
        assert db.session.scalar(sa.select(sa.func.count(Product.id))) == len(PRODUCTS)
        assert db.session.scalar(sa.select(Product.stock).where(Product.sku == "SM-001")) == 7


def test_the_seed_command_reports_an_already_seeded_shop(app, runner):
    # The fixture's schema is create_all()'s, i.e. the newest: stamp it at head, as a migrated database is.
    with app.app_context():
        flask_migrate.stamp()
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0
    assert "Harbour Mall already seeded." in result.output


def test_the_home_page_shows_categories_and_featured_products(client):
    page = client.get("/").get_data(as_text=True)
    for category in CATEGORIES:
        assert f'href="/category/{category.slug}"' in page
    assert "Featured this week" in page
    assert page.count('class="product-card') >= len(FEATURED_SKUS)
    assert "Octopus Card Holder with Lanyard" in page


def test_a_category_page_lists_only_its_products_with_prices(client):
    page = client.get("/category/electronics").get_data(as_text=True)
    assert '<h1 class="page-title">Electronics</h1>' in page
    assert "True Wireless Earbuds" in page and "HK$699.00" in page
    assert "Jasmine Rice" not in page.split("<main", 1)[1]
    assert 'aria-current="page">Electronics<' in page


def test_a_category_page_sorts_by_price(client):
    page = client.get("/category/toys?sort=price_asc").get_data(as_text=True)
    assert page.index("HK$99.00") < page.index("HK$399.00")


def test_an_unknown_category_is_a_friendly_404(client):
    response = client.get("/category/garden")
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


def test_a_product_page_shows_image_price_stock_and_add_to_cart(client):
    page = client.get("/product/jasmine-rice-5kg").get_data(as_text=True)
    assert '<h1 class="product-detail__name">Thai Hom Mali Jasmine Rice 5kg</h1>' in page
    assert "HK$89.90" in page
    assert 'src="/static/shop/products/jasmine-rice-5kg.svg"' in page
    assert ">In stock<" in page
    assert 'value="Add to cart"' in page
    assert '<label class="field__label" for="quantity">Quantity</label>' in page
    assert 'href="/category/supermarket">Supermarket</a>' in page  # breadcrumb


def test_a_low_stock_product_says_how_many_are_left(client):
    page = client.get("/product/noise-cancelling-headphones").get_data(as_text=True)
    assert "Only 2 left in stock" in page
    assert 'max="2"' in page


def test_a_sold_out_product_cannot_be_added_to_the_cart(client):
    page = client.get("/product/ding-ding-tram-model").get_data(as_text=True)
    assert ">Sold out<" in page
    assert 'value="Add to cart"' not in page


def test_an_unknown_product_is_a_friendly_404(client):
    response = client.get("/product/flying-car")
    assert response.status_code == 404
    assert 'href="/"' in response.get_data(as_text=True)
