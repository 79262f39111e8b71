"""The shopper's language: English or Traditional Chinese (Hong Kong), chosen by cookie or by the browser.

``choose_locale`` is a plain rule (no Flask); the ``language`` blueprint is the header's "English / 繁" switch,
which sets the ``lang`` cookie for a year and goes back to the page it was pressed on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import flask_babel
from babel import Locale, UnknownLocaleError
from flask import Blueprint, g, has_request_context, redirect, request, url_for
from flask_babel import get_locale
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice

from .accounts.guards import safe_next
from .validation import ShopForm

ENGLISH = "en"
CHINESE = "zh_Hant_HK"
LOCALES = (ENGLISH, CHINESE)
COOKIE_NAME = "lang"
COOKIE_MAX_AGE_SECONDS = 365 * 24 * 60 * 60
# What the shop sends the bank as Accept-Language on enrolment and resend, per shopper locale.
ACCEPT_LANGUAGE = {ENGLISH: "en", CHINESE: "zh-HK"}

bp = Blueprint("language", __name__)


def _locale_of_tag(tag: str) -> str | None:
    """One language tag of a browser ('zh-HK', 'zh_Hant', 'en-GB') -> a shop locale, or None."""
    try:
        parsed = Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if parsed.language == "zh":
        # zh, zh-HK, zh-Hant, zh-TW, zh-MO, zh-Hant-HK: the shop has one Chinese, Hong Kong's Traditional.
        return CHINESE
    if parsed.language == "en":
        return ENGLISH
    return None


def choose_locale(cookie: str | None, accepted: Iterable[str]) -> str:
    """The cookie when it names a shop locale; else the browser's first language we have; else English."""
    if cookie in LOCALES:
        return cookie
    for tag in accepted:
        locale = _locale_of_tag(tag)
        if locale:
            return locale
    return ENGLISH


def select_locale() -> str:
    """Flask-Babel's locale selector: the ``lang`` cookie, then Accept-Language (best quality first); English
    outside a request (commands, rules called by tests)."""
    if not has_request_context():
        return ENGLISH
    accepted = [tag for tag, _quality in request.accept_languages]
    return choose_locale(request.cookies.get(COOKIE_NAME), accepted)


def is_chinese() -> bool:
    """Whether this request's pages are in Chinese."""
    return str(get_locale() or ENGLISH) == CHINESE


def local_name(entry: Any) -> str:
    """A product's or category's name in the shopper's language (English while its Chinese is missing)."""
    return (is_chinese() and getattr(entry, "name_zh", "")) or entry.name


def local_description(product: Any) -> str:
    """A product's description in the shopper's language (English while its Chinese is missing)."""
    return (is_chinese() and getattr(product, "description_zh", "")) or product.description


def local_line_name(line: Any) -> str:
    """An order line's product name in the shopper's language; the name kept with the order otherwise."""
    if not is_chinese():
        return line.product_name  # without loading the product: an English page needs only the kept name
    if hasattr(line, "name_zh"):  # a summary line (orders/rules.py) carries the product's Chinese name
        return line.name_zh or line.product_name
    product = getattr(line, "product", None)
    return (product is not None and product.name_zh) or line.product_name


def bank_language() -> str:
    """The Accept-Language the shop sends the bank on enrolment and resend: the shopper's SMS language."""
    return ACCEPT_LANGUAGE.get(str(get_locale() or ENGLISH), ACCEPT_LANGUAGE[ENGLISH])


@bp.after_app_request
def _vary_by_language(response):
    """A page's language depends on the cookie and Accept-Language: no shared cache may mix them up."""
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response


class LanguageForm(ShopForm):
    """The header switch: the language pressed and the page to come back to."""

    lang = SelectField(choices=[SelectChoice(ENGLISH, "English"), SelectChoice(CHINESE, "繁體中文")])
    next = HiddenField()


@bp.post("/language")
def switch():
    """Remember the language pressed for a year, then go back to the same page (same-site paths only)."""
    form = LanguageForm()
    back = safe_next(form.next.data, url_for("catalog.home"))
    response = redirect(back)
    if form.validate():
        response.set_cookie(
            COOKIE_NAME,
            form.lang.data,
            max_age=COOKIE_MAX_AGE_SECONDS,
            samesite="Lax",
            httponly=True,
            secure=request.is_secure,
        )
    return response


def _page_translations():
    """The request's catalogue, looked up once per request rather than once per ``_()`` in a template.

    Flask-Babel finds it through the request context, the domain and the locale on every call (~20 µs, and a
    page has 20 to 60 of them). It is kept beside the locale object Flask-Babel chose: ``force_locale`` and
    ``refresh`` replace that object, so a changed locale is never served an old catalogue.
    """
    if not g:
        return flask_babel.get_translations()
    locale = get_locale()
    cached = g.get("_page_translations")
    if cached is not None and cached[0] is locale:
        return cached[1]
    translations = flask_babel.get_translations()
    g._page_translations = (locale, translations)
    return translations


def install_template_gettext(app) -> None:
    """Templates' ``_()``, ``ngettext`` and friends through ``_page_translations`` (same newstyle semantics)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _page_translations().ugettext(s),
        ngettext=lambda s, p, n: _page_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _page_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _page_translations().unpgettext(c, s, p, n),
    )
