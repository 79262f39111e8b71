"""The storefront: home page, categories, product pages and search."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from ..cart.forms import AddToCartForm
from ..catalog_data import CATEGORIES, FEATURED_SKUS, POPULAR_SEARCHES, POPULAR_SEARCHES_ZH
from ..database import read_only
from ..extensions import db
from ..i18n import is_chinese, local_name
from ..models import Category, Product
from ..page_cache import cached_for_visitors
from .forms import SearchForm
from .search import category_products, normalise_page, normalise_sort, paginate, search_products, sort_products

bp = Blueprint("catalog", __name__)

LOW_STOCK = 5  # "Only N left" from here down
CATEGORY_COLOURS = {data.slug: data.colour for data in CATEGORIES}
CATEGORY_TAGLINES = {data.slug: data.tagline for data in CATEGORIES}
CATEGORY_TAGLINES_ZH = {data.slug: data.tagline_zh for data in CATEGORIES}


@bp.app_template_global()
def stock_status(product: Product) -> str:
    """in_stock | low | sold_out, for badges and the product page."""
    if product.stock <= 0:
        return "sold_out"
    if product.stock <= LOW_STOCK:
        return "low"
    return "in_stock"


@bp.app_template_global()
def category_tagline(category: Category) -> str:
    taglines = CATEGORY_TAGLINES_ZH if is_chinese() else CATEGORY_TAGLINES
    return taglines.get(category.slug, "")


def popular_searches() -> tuple[str, ...]:
    return POPULAR_SEARCHES_ZH if is_chinese() else POPULAR_SEARCHES


def _per_page() -> int:
    return int(current_app.config["PRODUCTS_PER_PAGE"])


@bp.get("/")
@read_only
@cached_for_visitors
def home():
    categories = db.session.scalars(sa.select(Category).order_by(Category.position)).all()
    featured_by_sku = {
        product.sku: product
        for product in db.session.scalars(
            sa.select(Product).options(joinedload(Product.category)).where(Product.sku.in_(FEATURED_SKUS))
        )
    }
    featured = [featured_by_sku[sku] for sku in FEATURED_SKUS if sku in featured_by_sku]
    counts = dict(
        db.session.execute(
            sa.select(Product.category_id, sa.func.count(Product.id)).group_by(Product.category_id)
        ).all()
    )
    return render_template(
        "shop/catalog/home.html",
        categories=categories,
        featured=featured,
        counts=counts,
        popular_searches=popular_searches(),
    )


@bp.get("/category/<slug>")
@read_only
@cached_for_visitors
def category(slug: str):
    category = db.session.scalar(sa.select(Category).where(Category.slug == slug)) or abort(404)
    sort = normalise_sort(request.args.get("sort"))
    products = sort_products(category_products(category), sort)
    page = paginate(products, normalise_page(request.args.get("page")), _per_page())
    return render_template(
        "shop/catalog/category.html",
        category=category,
        active_category=category,
        page=page,
        sort=sort,
        title=local_name(category),
    )


@bp.get("/product/<slug>")
@read_only
@cached_for_visitors
def product(slug: str):
    product = db.session.scalar(
        sa.select(Product).options(joinedload(Product.category)).where(Product.slug == slug)
    ) or abort(404)
    form = AddToCartForm(product_id=product.id, quantity=1)
    related = db.session.scalars(
        sa.select(Product)
        .where(Product.category_id == product.category_id, Product.id != product.id, Product.stock > 0)
        .order_by(Product.name)
        .limit(4)
    ).all()
    return render_template(
        "shop/catalog/product.html",
        product=product,
        form=form,
        related=related,
        active_category=product.category,
        title=local_name(product),
    )


@bp.get("/search")
@read_only
@cached_for_visitors
def search():
    form = SearchForm(request.args)
    categories = db.session.scalars(sa.select(Category).order_by(Category.position)).all()
    form.category.choices = [SelectChoice("", _("All categories"))] + [
        SelectChoice(c.slug, local_name(c)) for c in categories
    ]
    result = search_products(
        request.args.get("q", ""),
        category_slug=request.args.get("category") or None,
        sort=request.args.get("sort", "relevance"),
        page=normalise_page(request.args.get("page")),
        per_page=_per_page(),
    )
    title = _("Search results for “%(query)s”", query=result.query) if result.query else _("All products")
    return render_template(
        "shop/catalog/search.html",
        form=form,
        result=result,
        page=result.page,
        categories=categories,
        popular_searches=popular_searches(),
        search_query=result.query,
        title=title,
    )
