"""The catalogue in both languages: Chinese names and descriptions seeded, shown on Chinese pages, searched."""

from __future__ import annotations

import sqlalchemy as sa

from shop.catalog.search import search_products
from shop.extensions import db
from shop.models import Category, Product
from shop.seed import seed_database

from .support import on_both_databases

CHINESE = {"Accept-Language": "zh-HK"}


def test_seed_stores_every_products_and_categorys_chinese_text(ctx):
    products = db.session.scalars(sa.select(Product)).all()
    assert len(products) == 49
    assert all(product.name_zh and product.description_zh for product in products)
    assert all(category.name_zh for category in db.session.scalars(sa.select(Category)))
    rice = db.session.scalar(sa.select(Product).where(Product.sku == "SM-001"))
    assert rice.name_zh == "泰國茉莉香米 5公斤"


def test_seed_fills_in_chinese_text_missing_from_an_older_database_and_keeps_the_rest(ctx):
    rice = db.session.scalar(sa.select(Product).where(Product.sku == "SM-001"))
    rice.name_zh, rice.description_zh, rice.stock = "", "", 7
    supermarket = db.session.scalar(sa.select(Category).where(Category.slug == "supermarket"))
    supermarket.name_zh = ""
    db.session.commit()
    assert seed_database() is True
    db.session.expire_all()
    rice = db.session.scalar(sa.select(Product).where(Product.sku == "SM-001"))
    assert (rice.name_zh, rice.stock) == ("泰國茉莉香米 5公斤", 7)
    assert rice.description_zh.startswith("新造長粒茉莉香米")
    assert db.session.scalar(sa.select(Category.name_zh).where(Category.slug == "supermarket")) == "超級市場"
    assert seed_database() is False  # nothing left to fill in


def test_a_merchants_own_chinese_text_is_not_overwritten_by_seed(ctx):
    rice = db.session.scalar(sa.select(Product).where(Product.sku == "SM-001"))
    rice.name_zh = "特價香米"
    db.session.commit()
    seed_database()
    assert db.session.scalar(sa.select(Product.name_zh).where(Product.sku == "SM-001")) == "特價香米"


def test_chinese_pages_show_the_chinese_name_description_and_category(client):
    html = client.get("/product/jasmine-rice-5kg", headers=CHINESE).get_data(as_text=True)
    assert '<h1 class="product-detail__name">泰國茉莉香米 5公斤</h1>' in html
    assert "新造長粒茉莉香米" in html and "超級市場" in html
    assert "Thai Hom Mali" not in html
    english = client.get("/product/jasmine-rice-5kg").get_data(as_text=True)
    assert "Thai Hom Mali Jasmine Rice 5kg" in english and "泰國茉莉香米" not in english


def test_a_chinese_category_page_has_its_chinese_tagline(client):
    html = client.get("/category/supermarket", headers=CHINESE).get_data(as_text=True)
    assert "白米、醬料、零食及急凍點心" in html and "<title>超級市場 · Harbour Mall</title>" in html


def test_the_english_name_shows_while_a_product_has_no_chinese_yet(app, client):
    with app.app_context():
        product = db.session.scalar(sa.select(Product).where(Product.sku == "SM-002"))
        product.name_zh = ""
        db.session.commit()
    html = client.get("/product/premium-light-soy-sauce", headers=CHINESE).get_data(as_text=True)
    assert "Premium Light Soy Sauce 500ml" in html


@on_both_databases
def test_search_finds_products_by_their_chinese_names(app):
    with app.app_context():
        assert [p.sku for p in search_products("八達通").page.items] == ["EL-005"]
        assert "SM-001" in [p.sku for p in search_products("香米").page.items]
        assert [p.sku for p in search_products("蝦餃").page.items] == ["SM-004"]
        assert [p.sku for p in search_products("麻雀", category_slug="toys").page.items] == ["TG-003"]
        assert search_products("八達通", category_slug="sports").page.total == 0
        assert {p.sku for p in search_products("耳機").page.items} == {"EL-001", "EL-002"}


def test_a_chinese_search_page_lists_the_chinese_results(client):
    html = client.get("/search?q=生抽", headers=CHINESE).get_data(as_text=True)
    assert "特級生抽 500毫升" in html and "「生抽」的結果" in html


def test_the_chinese_popular_searches_each_find_something(app, client):
    from shop.catalog_data import POPULAR_SEARCHES_ZH

    with app.app_context():
        for term in POPULAR_SEARCHES_ZH:
            assert search_products(term).page.total > 0, term
    html = client.get("/search?q=zzzz", headers=CHINESE).get_data(as_text=True)
    assert "八達通" in html


def test_a_flash_names_the_product_in_chinese(client):
    client.set_cookie("lang", "zh_Hant_HK")
    with client.application.app_context():
        rice = db.session.scalar(sa.select(Product.id).where(Product.sku == "SM-001"))
    client.post("/cart/add", data={"product_id": rice, "quantity": 2})
    html = client.get("/cart").get_data(as_text=True)
    assert "已將 2 × 泰國茉莉香米 5公斤 加入購物車。" in html
