"""Jinja helpers shared by every shop page: the money filter, safe links to optional endpoints, header data."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from flask import Flask, current_app, g, render_template, request, url_for
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BuildError

from .cart import pricing
from .extensions import db
from .i18n import local_description, local_line_name, local_name
from .models import Category
from .orders.rules import summary_lines
from .page_cache import without_csrf_token
from .validation import has_control_characters


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


# --- parts of the layout that are the same on every page -----------------------------------------------------
#
# The header and footer are a third of a page's Jinja: ~20 translated strings, ~12 url_for, two forms. Most of it
# depends only on the language, the app's settings and where the app is mounted, so each worker renders such a
# part once per (part, language, mount point, its own inputs) and keeps the HTML (``Fragments``). What changes per
# request (the CSRF token, the page to come back to) is written into the kept HTML as a mark and filled in on
# every request, as page_cache does; what the database says (the categories) is part of the key, read per request.

# A mark is a name between two private-use characters: nothing a shop page writes holds them, and a hidden
# field keeps them (it drops control characters).
_MARK = re.compile("\ue000([a-z_]+)\ue000")


def _mark(name: str) -> str:
    return f"\ue000{name}\ue000"


# The settings a layout part may show (the footer's delivery terms, the names): a part is kept per their values.
_LAYOUT_SETTINGS = ("SHOP_NAME", "BANK_NAME", "CURRENCY_CODE", "FREE_DELIVERY_THRESHOLD_CENTS", "DELIVERY_FEE_CENTS")


class Fragments:
    """One worker's rendered layout parts, at most ``max_parts`` (all of them are dropped when it is full)."""

    def __init__(self, max_parts: int = 512) -> None:
        self.max_parts = max_parts
        self._parts: dict[tuple, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[str, ...] | None:
        return self._parts.get(key)

    def put(self, key: tuple, pieces: tuple[str, ...]) -> None:
        with self._lock:
            if len(self._parts) >= self.max_parts:
                self._parts.clear()
            self._parts[key] = pieces

    def clear(self) -> None:
        with self._lock:
            self._parts.clear()


def _fragment(
    template: str, inputs: tuple = (), *, fills: dict[str, str] | None = None, marks: bool = True, **context: Any
) -> Markup:
    """``template`` rendered with ``context`` once per (language, mount point, ``inputs``) and kept: its output
    may depend on nothing else. Per request, the CSRF token and each ``mark(name)`` it wrote (unless
    ``marks=False``) are filled in with ``fills[name]``, escaped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    settings = tuple(config[name] for name in _LAYOUT_SETTINGS)
    key = (template, str(get_locale()), request.script_root, settings, inputs)
    fragments: Fragments = app.extensions["shop_fragments"]
    pieces = fragments.get(key)
    if pieces is None or app.jinja_env.auto_reload:
        html = render_template(template, mark=_mark, **context)
        if marks:
            pieces = tuple(_MARK.split(without_csrf_token(html, _mark("csrf_token"))))
        else:
            pieces = (html,)
        fragments.put(key, pieces)
    if len(pieces) == 1:
        return Markup(pieces[0])
    filled = list(pieces)
    for index in range(1, len(filled), 2):  # split() puts each mark's name at an odd index
        name = filled[index]
        filled[index] = generate_csrf() if name == "csrf_token" else str(escape((fills or {})[name]))
    return Markup("".join(filled))


def _layout_part(name: str, **fills: str) -> Markup:
    """A part of ``shop/base.html`` that depends on the language and settings only: ``shop/_layout_<name>.html``,
    with ``mark(name)`` filled in from ``fills``."""
    return _fragment(f"shop/_layout_{name}.html", fills=fills)


def _language_switch() -> Markup:
    """The header's English / 繁 form, coming back to this page (a path with a control character: home, as
    ShopForm drops such a hidden value)."""
    here = request.full_path.rstrip("?")
    return _fragment("shop/_layout_language.html", fills={"next": "" if has_control_characters(here) else here})


def _cart_link(count: int) -> Markup:
    """The header's cart link for ``count`` items (the plural form depends on the number)."""
    return _fragment("shop/_layout_cart.html", (count,), count=count)


def _category_nav(active_category_id: int | None) -> Markup:
    """The header's category links, kept per list of categories (read from the database on every request)."""
    categories = tuple(tuple(row) for row in _nav_categories())
    return _fragment(
        "shop/_category_nav.html",
        (categories, active_category_id),
        marks=False,
        categories=_nav_categories(),
        active_category_id=active_category_id,
    )


def _product_card(product: Any, heading_level: int = 3) -> Markup:
    """A catalogue card, kept per language and every product field it shows (a stock change is a new card)."""
    category = product.category
    shown = (
        product.id,
        product.slug,
        product.image,
        product.stock,
        product.price_cents,
        product.name,
        product.name_zh,
        category.name,
        category.name_zh,
        heading_level,
    )
    return _fragment("shop/_product_card.html", shown, marks=False, product=product, heading_level=heading_level)


def _cart_count() -> int:
    from .cart.rules import item_count

    try:
        return item_count()
    except SQLAlchemyError:
        db.session.rollback()
        return 0


def checkout_steps(current: str, show_points: bool = True) -> Markup:
    """The checkout's progress steps at ``current``, rendered once per language and kept."""
    return _fragment(
        "shop/checkout/_steps.html", (current, show_points), marks=False, current=current, show_points=show_points
    )


def _summary_lines(order: Any) -> list:
    """The checkout summary's lines (orders/rules.summary_lines), read while the page renders."""
    return summary_lines(order.id)


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
        "layout_part": _layout_part,
        "category_nav": _category_nav,
        "cart_link": _cart_link,
        "language_switch": _language_switch,
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
    app.add_template_global(_product_card, "product_card_html")  # a global: imported macros see no context
    app.add_template_global(_summary_lines, "order_summary_lines")
    app.add_template_global(checkout_steps, "checkout_steps")
    app.context_processor(_shop_context)
    app.extensions["shop_fragments"] = Fragments()
