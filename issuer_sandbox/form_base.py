"""The base of every sandbox form: WTForms' built-in messages in the page's language, in Hong Kong's script.

Flask-WTF's own lookup asks WTForms for ``zh_Hant_HK``, which falls back to WTForms' ``zh``: Simplified
Chinese ("字段长度…") on Traditional Chinese pages. Its Traditional catalogue is ``zh_TW``. Flask-WTF also
reads the catalogue from disk on every request; this one is read once per locale.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from babel.support import Translations
from flask import has_request_context
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path

# The sandbox's locale -> the WTForms catalogue written in the same script.
WTFORMS_LOCALES = {"zh_Hant_HK": "zh_TW"}


@cache
def wtforms_translations(locale: str) -> Translations:
    return Translations.load(messages_path(), [WTFORMS_LOCALES.get(locale, locale)], domain="wtforms")


class SandboxForm(FlaskForm):
    class Meta:
        def get_translations(self, form: Any) -> Translations | None:
            if not has_request_context():
                return None
            return wtforms_translations(str(get_locale() or "en"))
