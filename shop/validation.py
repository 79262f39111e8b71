"""Input hygiene for every shop form and URL: ASCII digits where a number is read, no control characters.

Python's ``\\d`` and ``str.isdigit()`` take '٣' (Arabic-Indic), '３' (full-width) and '¹' (superscript) as
digits, and ``int()`` takes the first two, so a number is read here only from the ASCII digits 0-9.
PostgreSQL refuses NUL in text, so a control character that reached a query was a 500: ``ShopForm`` refuses
one in any field with a field error before the field's other checks run, and ``init_app`` refuses one in
the path or query with a 400 page.

Policy: every shop field is a single-line input, so tab and newline are refused like NUL. A multi-line
field (``TextAreaField``) may hold tab, CR and LF, never any other control character. A hidden field's
value with a control character is dropped rather than shown as an error the shopper could not fix.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Any

from babel.support import Translations
from flask import Flask, has_request_context, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest
from wtforms import Field, HiddenField, IntegerField, SelectChoice, TextAreaField
from wtforms.i18n import messages_path
from wtforms.validators import StopValidation, ValidationError

# C0 controls, DEL and C1 controls.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What a multi-line text may hold beyond printable text.
CONTROL_CHARACTERS_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ASCII_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")


def has_control_characters(text: str, multi_line: bool = False) -> bool:
    """Whether ``text`` holds a control character (tab, CR and LF are allowed in multi-line text)."""
    pattern = CONTROL_CHARACTERS_BUT_LINE_BREAKS if multi_line else CONTROL_CHARACTERS
    return pattern.search(text) is not None


def is_ascii_digits(text: str) -> bool:
    """Only 0-9, at least one: what ``str.isdigit()`` should have meant."""
    return bool(text) and text.isascii() and text.isdigit()


class NoControlCharacters:
    """Refuses a field whose submitted text holds a control character, and stops its other checks."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, form: Any, field: Field) -> None:
        multi_line = isinstance(field, TextAreaField)
        if any(isinstance(value, str) and has_control_characters(value, multi_line) for value in field.raw_data or ()):
            field.errors[:] = []  # "not a number" or "not a choice" would only distract from this
            raise StopValidation(
                self.message or _l("Remove the invisible control characters (such as tabs or line breaks).")
            )


class AsciiDigits:
    """Exactly ``minimum``..``maximum`` ASCII digits (0-9): '٣', '３' and '¹' are not digits here."""

    def __init__(self, minimum: int, maximum: int | None = None, message: str | None = None) -> None:
        self.pattern = re.compile(f"[0-9]{{{minimum},{maximum if maximum is not None else minimum}}}")
        self.message = message

    def __call__(self, form: Any, field: Field) -> None:
        if not isinstance(field.data, str) or not self.pattern.fullmatch(field.data):
            raise ValidationError(self.message or _l("Enter digits 0-9 only."))


class WholeNumberField(IntegerField):
    """An integer field that reads ASCII digits only (``int()`` would take '٣' and '３' too)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        if not text:
            self.data = None
            return
        if not ASCII_WHOLE_NUMBER.fullmatch(text):
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        self.data = int(text)


# WTForms' own catalogue for each shop locale: its "zh" is Simplified, Hong Kong reads its Traditional "zh_TW".
WTFORMS_LOCALES = {"zh_Hant_HK": "zh_TW"}


@cache
def wtforms_translations(locale: str) -> Translations:
    """WTForms' built-in messages ("This field is required.", "Not a valid choice.") for a shop locale."""
    return Translations.load(messages_path(), [WTFORMS_LOCALES.get(locale, locale)], domain="wtforms")


class ShopForm(FlaskForm):
    """The base of every shop form: each field refuses control characters first, so none can forget it.

    A hidden field is the page's, not the shopper's, who could not see or fix it: a value with a control
    character is dropped (read as empty) instead, so a doctored ``next`` target just leads home.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        texts = _field_texts(type(self), str(get_locale() or "en")) if has_request_context() else {}
        for field in self:
            if isinstance(field, HiddenField):
                if isinstance(field.data, str) and has_control_characters(field.data):
                    field.data = ""
                continue
            # A new tuple per bound field: the class's validator list is shared by every instance.
            field.validators = (NoControlCharacters(), *field.validators)
            label, description, choices = texts.get(field.name, (None, None, None))
            if label is not None and field.label.text is label[0]:
                field.label.text = label[1]
            if description is not None and field.description is description[0]:
                field.description = description[1]
            if choices is not None and _same_items(getattr(field, "choices", None), choices[0]):
                field.choices = choices[1]

    class Meta:
        def get_translations(self, form: Any) -> Translations | None:
            """WTForms' messages in the shopper's language (Flask-WTF's own would pick Simplified Chinese)."""
            if not has_request_context():
                return None
            return wtforms_translations(str(get_locale() or "en"))


_FIELD_TEXTS: dict[tuple[type, str], dict[str, tuple]] = {}


def _field_texts(form_class: type, locale: str) -> dict[str, tuple]:
    """Each field's lazy label, description and choices of ``form_class`` with their text in ``locale`` (the
    request's): {name: ((lazy label, text) or None, (lazy description, text) or None, (choices, translated
    choices) or None)}.

    A lazy text costs a catalogue look-up every time a page reads it (a label twice, a submit button's too, each
    option of a select twice: the delivery form's 19 districts were ~0.5 ms a page); the catalogues do not
    change while a worker runs, so each form class reads its texts once per language.
    """
    key = (form_class, locale)
    texts = _FIELD_TEXTS.get(key)
    if texts is None:
        texts = {}
        for name, unbound in form_class._unbound_fields or ():
            label = unbound.kwargs.get("label", unbound.args[0] if unbound.args else None)
            description = unbound.kwargs.get("description")
            choices = unbound.kwargs.get("choices")
            texts[name] = (
                (label, str(label)) if isinstance(label, LazyString) else None,
                (description, str(description)) if isinstance(description, LazyString) else None,
                (choices, _translated_choices(choices)) if _has_lazy_choice(choices) else None,
            )
        _FIELD_TEXTS[key] = texts
    return texts


class ControlCharacterInUrl(BadRequest):
    """The path or query of a shop page holds a control character."""


def refuse_control_characters_in_url() -> None:
    """before_request: a NUL (%00) or other control character in the path or query is a 400, not a 500."""
    if has_control_characters(request.path) or any(
        has_control_characters(key) or has_control_characters(value) for key, value in request.args.items(multi=True)
    ):
        raise ControlCharacterInUrl()


def _control_character_page(error: ControlCharacterInUrl):
    from .errors import _error_page

    return _error_page(
        400,
        _l("That address could not be read"),
        _l("The address holds invisible control characters (such as %00). Check the link and try again."),
    )


def init_app(app: Flask) -> None:
    """Install the URL check before every request, with its own 400 page."""
    app.before_request(refuse_control_characters_in_url)
    app.register_error_handler(ControlCharacterInUrl, _control_character_page)


def _same_items(bound: Any, declared: list) -> bool:
    """Whether a bound field's choices are the class's own options (WTForms binds a copy of the list)."""
    return (
        isinstance(bound, list)
        and len(bound) == len(declared)
        and all(mine is theirs for mine, theirs in zip(bound, declared, strict=True))
    )


def _has_lazy_choice(choices: Any) -> bool:
    """A list of options, one of them with a lazy label (not a callable or optgroups)."""
    return isinstance(choices, list) and any(_is_lazy_choice(choice) for choice in choices)


def _is_lazy_choice(choice: Any) -> bool:
    return isinstance(choice, SelectChoice) and isinstance(choice.label, LazyString)


def _translated_choices(choices: list) -> list:
    """The options with each lazy label read now (an option keeps its other fields)."""
    return [replace(choice, label=str(choice.label)) if _is_lazy_choice(choice) else choice for choice in choices]
