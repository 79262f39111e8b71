"""Jinja helpers shared by every shop page: the money filter, safe links to optional endpoints, header data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, url_for
from flask_babel import get_locale
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BuildError

from .cart import pricing
from .extensions import db


def money(cents: int | None) -> str:
    """Jinja filter: integer cents -> 'HK$1,234.50' in the shop's currency."""
    if cents is None:
        return ""
    return pricing.format_money(int(cents), pricing.currency_symbol(current_app.config["CURRENCY_CODE"]))


def url_for_or(endpoint: str, fallback: str, **values: Any) -> str:
    """url_for, or a fixed path while the endpoint's blueprint does not exist yet."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return fallback


def page_language() -> str:
    """The <html lang> of a page: the shopper's locale only when we have a translation for it.

    Without a catalogue the page is English whatever the browser asked for, and a Chinese lang attribute
    would make screen readers read English text with a Chinese voice.
    """
    locale = get_locale()
    if locale is None or locale.language == "en":
        return "en"
    catalogue = Path(current_app.root_path) / "translations" / str(locale) / "LC_MESSAGES" / "messages.mo"
    return str(locale).replace("_", "-") if catalogue.is_file() else "en"


def _nav_categories() -> list:
    from .models import Category

    if "_nav_categories" not in g:
        try:
            g._nav_categories = db.session.scalars(sa.select(Category).order_by(Category.position, Category.name)).all()
        except SQLAlchemyError:
            # The error page must still render when the database is what failed.
            db.session.rollback()
            g._nav_categories = []
    return g._nav_categories


def _cart_count() -> int:
    from .cart.rules import current_cart

    try:
        return current_cart().item_count
    except SQLAlchemyError:
        db.session.rollback()
        return 0


def _shop_context() -> dict[str, Any]:
    from .accounts.forms import SignOutForm

    return {
        "shop_name": current_app.config["SHOP_NAME"],
        "nav_categories": _nav_categories,
        "cart_count": _cart_count,
        "sign_out_form": SignOutForm,
        "url_for_or": url_for_or,
        "page_language": page_language,
        "current_user": g.get("user"),
    }


def register_template_helpers(app: Flask) -> None:
    """Install the filters and context every shop template may rely on."""
    app.add_template_filter(money, "money")
    app.context_processor(_shop_context)
