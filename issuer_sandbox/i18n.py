"""Languages of the sandbox: English and Traditional Chinese (Hong Kong), chosen per browser or per API call.

Pages follow the ``lang`` cookie the header's switch sets, else the browser's ``Accept-Language``; the partner
API follows ``Accept-Language`` only (a merchant's server sends it for its shopper). Money, points and times are
formatted by Babel for the chosen locale.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, has_app_context, redirect, request
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired

from .extensions import babel
from .form_base import SandboxForm

ENGLISH = "en"
CHINESE = "zh_Hant_HK"
LOCALES = (ENGLISH, CHINESE)
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
# The <html lang> (BCP 47) of each locale.
HTML_LANG = {ENGLISH: "en", CHINESE: "zh-Hant-HK"}
# Babel-style patterns: the console keeps its ISO-like stamp in English; Chinese reads as Hong Kong writes it.
DATETIME_PATTERNS = {ENGLISH: "yyyy-MM-dd HH:mm:ss", CHINESE: "yyyy年M月d日 HH:mm:ss"}
SHORT_TIME_PATTERNS = {ENGLISH: "dd MMM HH:mm:ss", CHINESE: "M月d日 HH:mm:ss"}
DATE_PATTERNS = {ENGLISH: "yyyy-MM-dd", CHINESE: "yyyy年M月d日"}

bp = Blueprint("i18n", __name__)

# Words the seed data stores in English (each test card's behaviour, a card's kind), shown by the console
# through the ``data_label`` filter: a tester's own data has no entry and shows as typed.
DATA_LABELS = {
    "Happy path (Rewards, 250 pts = HK$1)": _l("Happy path (Rewards, 250 pts = HK$1)"),
    "Below the 1,000-point minimum": _l("Below the 1,000-point minimum"),
    "Premier programme: 200 pts = HK$1 (rate 0.005, increment 20)": _l(
        "Premier programme: 200 pts = HK$1 (rate 0.005, increment 20)"
    ),
    "Summit debit card: pays, no points offer": _l("Summit debit card: pays, no points offer"),
    "Frozen: payment declined cardFrozen, enrol notEligibleToRedeem": _l(
        "Frozen: payment declined cardFrozen, enrol notEligibleToRedeem"
    ),
    "Credit limit HK$100: larger payments declined insufficientCredit": _l(
        "Credit limit HK$100: larger payments declined insufficientCredit"
    ),
    "SMS undeliverable: enrol otpDeliveryFailed": _l("SMS undeliverable: enrol otpDeliveryFailed"),
    "another bank's card: pays, no points offer": _l("another bank's card: pays, no points offer"),
    "Opening points balance": _l("Opening points balance"),
    "Issue": _l("Issue"),
    "Adjust": _l("Adjust"),
    "Redeem": _l("Redeem"),
    "Reverse": _l("Reverse"),
    "At checkout (partner API)": _l("At checkout (partner API)"),
    "On the bank's site": _l("On the bank's site"),
    "Rewards site": _l("Rewards site"),  # the bank site's own partner (rewards_site.rules.SITE_MERCHANT_NAME)
    "native": _l("native"),
    "legacy": _l("legacy"),
    "credit": _l("credit"),
    "debit": _l("debit"),
}


def locale_for_tag(tag: str | None) -> str | None:
    """The sandbox locale a language tag asks for: any Chinese (zh, zh-HK, zh-Hant, zh-TW…) is zh_Hant_HK."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    if primary == "zh":
        return CHINESE
    if primary == "en":
        return ENGLISH
    return None


def requested(accept_language: str | None) -> str | None:
    """The first locale an ``Accept-Language`` value asks for (quality order), None when it names none of ours."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    for tag, _quality in parse_accept_header(accept_language or "", LanguageAccept):
        locale = locale_for_tag(tag)
        if locale:
            return locale
    return None


def negotiate(accept_language: str | None) -> str:
    """The best locale for an ``Accept-Language`` value, English when none fits."""
    return requested(accept_language) or ENGLISH


def select_locale() -> str:
    """Flask-Babel's selector: the cookie on pages, then ``Accept-Language`` (the API's only source)."""
    from .api.errors import is_api_request

    if not is_api_request():
        chosen = request.cookies.get(COOKIE)
        if chosen in LOCALES:
            return chosen
    return negotiate(request.headers.get("Accept-Language"))


def current_locale() -> str:
    """The locale of this request as one of LOCALES (English outside a request or an app without Babel)."""
    if not has_app_context() or "babel" not in current_app.extensions:
        return ENGLISH
    locale = get_locale()
    return CHINESE if locale is not None and locale.language == "zh" else ENGLISH


def sms_language_of_request() -> str | None:
    """The language this API call asks the bank's SMS to be in (``Accept-Language``), None when it names none."""
    return requested(request.headers.get("Accept-Language"))


class LanguageForm(SandboxForm):
    """The header's switch: two buttons named ``lang`` and the page to return to."""

    lang = StringField(validators=[DataRequired(), AnyOf(LOCALES)])
    next = HiddenField()


def safe_return_path(target: str | None) -> str:
    """Only a path on this site (never another host or a scheme); anything else returns to the home page."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@bp.post("/language")
def switch():
    """Remember the chosen language for a year and go back to the page the switch was on."""
    form = LanguageForm()
    response: Response = redirect(safe_return_path(form.next.data), code=303)
    if form.validate_on_submit():
        response.set_cookie(
            COOKIE,
            form.lang.data,
            max_age=COOKIE_MAX_AGE,
            samesite="Lax",
            httponly=True,
            secure=current_app.config["PREFERRED_URL_SCHEME"] == "https",
        )
    return response


def hkd(cents: int | None) -> str:
    """Integer cents as HK$ for the locale: 123450 -> "HK$1,234.50" (Decimal, never float)."""
    if cents is None:
        return "—"
    return format_currency(Decimal(cents).scaleb(-2), "HKD")


def points(n: int | None) -> str:
    """A points count with the locale's grouping: 120000 -> "120,000"."""
    if n is None:
        return "—"
    return format_decimal(n)


def when(moment: datetime | None) -> str:
    """A sandbox time (naive UTC) as text for the locale."""
    if moment is None:
        return "—"
    return format_datetime(moment, DATETIME_PATTERNS[current_locale()])


def short_time(moment: datetime) -> str:
    """A recent sandbox time, as a phone's message list shows it: "02 Dec 18:05:09" / "12月2日 18:05:09"."""
    return format_datetime(moment, SHORT_TIME_PATTERNS[current_locale()])


def day(moment: date | None) -> str:
    """A date (or the date of a sandbox time) for the locale."""
    if moment is None:
        return "—"
    return format_date(moment, DATE_PATTERNS[current_locale()])


def data_label(value: str | None) -> str:
    """Seed data's English words in the page's language; anything else as stored."""
    if value is None:
        return ""
    label = DATA_LABELS.get(value)
    return str(label) if label is not None else value


# Descriptions the sandbox stores in English (ledger transactions, statement lines), as (pattern, message):
# each is shown in the page's language; a nested description (a credit of an order) is translated in turn.
# The store and the partner API keep the English text.
DESCRIPTION_PATTERNS = (
    (re.compile(r"^Adjustment: (?P<text>.*)$", re.S), _l("Adjustment: %(text)s"), ()),
    (
        re.compile(r"^Pay with Points credit reversed: (?P<text>.*)$", re.S),
        _l("Pay with Points credit reversed: %(text)s"),
        ("text",),
    ),
    (re.compile(r"^Pay with Points credit: (?P<text>.*)$", re.S), _l("Pay with Points credit: %(text)s"), ("text",)),
    (re.compile(r"^Rewards site credit: (?P<text>.*)$", re.S), _l("Rewards site credit: %(text)s"), ("text",)),
    (re.compile(r"^Pay with Points reversal of (?P<order>\S+)$"), _l("Pay with Points reversal of %(order)s"), ()),
    (
        re.compile(r"^Pay with Points (?P<order>\S+): (?P<text>.*)$", re.S),
        _l("Pay with Points %(order)s: %(text)s"),
        ("text",),
    ),
    (re.compile(r"^(?P<merchant>.+) order (?P<reference>\S+)$"), _l("%(merchant)s order %(reference)s"), ()),
    (re.compile(r"^(?P<merchant>.+) (?P<reference>\S+) refund$"), _l("%(merchant)s %(reference)s refund"), ()),
)


def description(value: str | None) -> str:
    """A stored ledger or statement description in the page's language (a tester's own words as typed)."""
    if value is None:
        return ""
    if value in DATA_LABELS:
        return str(DATA_LABELS[value])
    for pattern, message, nested in DESCRIPTION_PATTERNS:
        found = pattern.match(value)
        if found:
            parts = found.groupdict()
            for name in nested:
                parts[name] = description(parts[name])
            return str(message) % parts
    return value


def _template_context() -> dict:
    locale = current_locale()
    return {
        "html_lang": HTML_LANG[locale],
        "current_locale": locale,
        "language_form": LanguageForm(formdata=None),
    }


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the selector, the switch's route, the template filters and context."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", ENGLISH)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.add_template_filter(hkd, "hkd")
    app.add_template_filter(points, "points")
    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
    app.add_template_filter(data_label, "data_label")
    app.add_template_filter(description, "description")
    app.context_processor(_template_context)
