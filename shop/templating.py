"""Jinja helpers shared by every shop page: the money filter, safe links to optional endpoints, header data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from flask import Flask, current_app, g, url_for
from flask_babel import get_locale
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BuildError

from .cart import pricing
from .extensions import db
from .i18n import local_description, local_line_name, local_name
from .models import Category


def money(cents: int | None) -> str:
    """Jinja filter: integer cents -> 'HK$1,234.50' in the shop's currency, as Babel writes it for the locale."""
    if cents is None:
        return ""
    if not isinstance(cents, int):
        raise pricing.PricingError("Money is kept in whole cents.")
    return _money_text(cents, str(get_locale() or "en"), current_app.config["CURRENCY_CODE"])


# A page shows the same few prices and totals over and over, and Babel spends ~20 µs on each (pattern look-up,
# Decimal arithmetic): the text of an amount in a locale never changes, so each worker keeps the recent ones.
@lru_cache(maxsize=4096)
def _money_text(cents: int, locale: str, currency: str) -> str:
    # Decimal, never float: 123450 cents is exactly Decimal('1234.50').
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)


def number(value: int | None) -> str:
    """Jinja filter: a whole number (points, counts) with the locale's grouping: 120000 -> '120,000'."""
    if value is None:
        return ""
    return _number_text(int(value), str(get_locale() or "en"))


@lru_cache(maxsize=4096)
def _number_text(value: int, locale: str) -> str:
    return format_decimal(value, locale=locale)


# Day and day-with-time patterns per language (CLDR), e.g. "02 Dec 2026" and "2026年12月2日".
_DATE_PATTERNS = {"en": ("dd MMM y", "dd MMM y HH:mm"), "zh": ("y年M月d日", "y年M月d日 HH:mm")}


def day_text(value: date | datetime | None) -> str:
    """Jinja filter: a date (or the day of a datetime) as the shopper's language writes it."""
    if value is None:
        return ""
    locale = get_locale()
    pattern = _DATE_PATTERNS.get(locale.language if locale else "en", _DATE_PATTERNS["en"])[0]
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, pattern, locale=locale)


def moment_text(value: datetime | None) -> str:
    """Jinja filter: a stored (UTC) datetime with its time, in the shopper's language, without converting it."""
    if value is None:
        return ""
    locale = get_locale()
    pattern = _DATE_PATTERNS.get(locale.language if locale else "en", _DATE_PATTERNS["en"])[1]
    return format_datetime(value, pattern, tzinfo=UTC, locale=locale)


def district_name(value: str | None) -> str:
    """Jinja filter: a stored district ('Wan Chai') as the shopper's language names it ('灣仔區')."""
    from .checkout.forms import DISTRICT_NAMES

    return str(DISTRICT_NAMES.get(value or "", value or ""))


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


_categories = Category.__table__
_NAV_CATEGORIES = sa.select(_categories.c.id, _categories.c.slug, _categories.c.name, _categories.c.name_zh).order_by(
    _categories.c.position, _categories.c.name
)


def _nav_categories() -> list:
    """The header's categories as rows (id, slug, name, name_zh): a Core select costs a quarter of ORM objects."""
    if "_nav_categories" not in g:
        try:
            g._nav_categories = db.session.execute(_NAV_CATEGORIES).all()
        except SQLAlchemyError:
            # The error page must still render when the database is what failed.
            db.session.rollback()
            g._nav_categories = []
    return g._nav_categories


def _cart_count() -> int:
    from .cart.rules import item_count

    try:
        return item_count()
    except SQLAlchemyError:
        db.session.rollback()
        return 0


def _shop_context() -> dict[str, Any]:
    from .accounts.forms import SignOutForm
    from .i18n import CHINESE, ENGLISH, LanguageForm

    return {
        "shop_name": current_app.config["SHOP_NAME"],
        "nav_categories": _nav_categories,
        "cart_count": _cart_count,
        "sign_out_form": SignOutForm,
        "language_form": LanguageForm,
        "languages": (ENGLISH, CHINESE),
        "current_language": lambda: str(get_locale() or ENGLISH),
        "url_for_or": url_for_or,
        "page_language": page_language,
        "current_user": g.get("user"),
    }


def register_template_helpers(app: Flask) -> None:
    """Install the filters and context every shop template may rely on."""
    app.add_template_filter(money, "money")
    app.add_template_filter(number, "number")
    app.add_template_filter(district_name, "district")
    app.add_template_filter(local_name, "local_name")
    app.add_template_filter(local_description, "local_description")
    app.add_template_filter(local_line_name, "local_line_name")
    app.add_template_filter(day_text, "day")
    app.add_template_filter(moment_text, "moment")
    app.context_processor(_shop_context)
