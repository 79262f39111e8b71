"""Rendered catalogue pages for visitors, kept in each worker and reused while the catalogue is unchanged.

Most traffic to the home, category, product and search pages comes from visitors who are not signed in
and have nothing in their cart: for them a page depends only on its URL, the language and the catalogue.
Rendering one costs milliseconds of Jinja; serving it again costs a dictionary look-up and one small read
of the catalogue's *version* (every product's id, stock and price, which is what orders and cancellations
change), so a visitor never sees a stock figure older than the last committed order. Signed-in shoppers,
visitors with a cart or a message to show, and anything but a 200 are rendered as before.

The page's CSRF token (the add-to-cart form) belongs to the visitor's session, not to the page: it is
stored as a placeholder and filled in per request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, request, session
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from .cart.rules import SESSION_KEY as CART_SESSION_KEY
from .extensions import db
from .models import Product

F = TypeVar("F", bound=Callable)

_CSRF_PLACEHOLDER = "\x00csrf-token\x00"
_products = Product.__table__
# No parameters, so one SQL text serves every dialect (its quoting of these plain names is the same).
_CATALOGUE_VERSION_SQL = str(
    sa.select(_products.c.id, _products.c.stock, _products.c.price_cents).order_by(_products.c.id).compile()
)


@dataclass(frozen=True)
class CachedPage:
    version: tuple
    body: str
    stored_at: float


class PageCache:
    """A bounded, least-recently-used map of rendered pages (one per worker process)."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self._pages: OrderedDict[tuple, CachedPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> CachedPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple, page: CachedPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)


def init_app(app) -> None:
    app.extensions["shop_page_cache"] = PageCache(int(app.config["PAGE_CACHE_MAX_PAGES"]))


def page_cache() -> PageCache:
    return current_app.extensions["shop_page_cache"]


def catalogue_version() -> tuple:
    """What a visitor's catalogue page depends on that orders change: every product's stock and price.

    One statement on a pooled connection of its own, through the driver's cursor: no ORM session, no
    transaction to begin and end, and plain tuples that compare at C speed. (The ORM path cost more than a
    quarter of a cached page.) It is read before the page is rendered, so a page is never stored under a
    version newer than its data: at worst an order committed in between makes the next visitor's check miss.
    """
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(_CATALOGUE_VERSION_SQL)
        version = tuple(cursor.fetchall())
        cursor.close()
    finally:
        connection.close()  # back to the pool
    return version


def without_csrf_token(html: str, placeholder: str) -> str:
    """``html`` to keep, with the visitor's CSRF token (if its render used one) replaced by ``placeholder``.

    The token belongs to the session, not to the page, so kept HTML carries a placeholder that each request
    fills in with its own. Asking for the token here does not add one to a session that has none.
    """
    token = session.get("csrf_token") and generate_csrf()
    return html.replace(token, placeholder) if token else html


def _cacheable() -> bool:
    """A visitor's plain view of the page: not signed in, an empty cart, no message waiting."""
    if not current_app.config["PAGE_CACHE_MAX_PAGES"] or request.method != "GET":
        return False
    return not any(key in session for key in ("user_id", CART_SESSION_KEY, "_flashes"))


def cached_for_visitors(view: F) -> F:
    """Serve the page from the worker's cache when the visitor's view of it cannot have changed."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if not _cacheable():
            return view(*args, **kwargs)
        key = (request.endpoint, request.full_path, str(get_locale()))
        version = catalogue_version()
        max_age = int(current_app.config["PAGE_CACHE_SECONDS"])
        page = page_cache().get(key)
        if page is None or page.version != version or time.monotonic() - page.stored_at > max_age:
            rendered = view(*args, **kwargs)
            if not isinstance(rendered, str):  # a redirect, an error status or a response object: not kept
                return rendered
            page = CachedPage(version, without_csrf_token(rendered, _CSRF_PLACEHOLDER), time.monotonic())
            page_cache().put(key, page)
        if _CSRF_PLACEHOLDER not in page.body:
            return page.body
        return page.body.replace(_CSRF_PLACEHOLDER, generate_csrf())

    return wrapper  # type: ignore[return-value]
