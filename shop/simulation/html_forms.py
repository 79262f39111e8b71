"""The forms on an HTML page, as a browser sees them: action, attributes and the values it would submit.

The simulated shopper submits exactly these (the CSRF token included), so a form the shop renders differently
or stops rendering fails the journey instead of being bypassed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# The fields a browser sends from what the page says (a submit button only when it is the one pressed).
_VALUE_INPUT_TYPES = {"hidden", "text", "email", "tel", "number", "password", "search", ""}


@dataclass
class HtmlForm:
    """One <form>: its action, its own attributes (data-* included), its field values and its submit buttons."""

    action: str
    method: str
    attributes: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)  # name -> value of each named submit button
    selects: set[str] = field(default_factory=set)
    radios: dict[str, list[str]] = field(default_factory=dict)  # name -> each option's value, in page order

    def has_field(self, name: str) -> bool:
        return name in self.values or name in self.buttons or name in self.selects or name in self.radios

    def data(self, button: str | None = None, **fields: str) -> dict[str, str]:
        """What the browser posts: the page's values, ``fields`` typed over them, and the pressed button."""
        unknown = [name for name in fields if not self.has_field(name)]
        if unknown:
            raise FormNotFound(f"The form {self.action} has no field {', '.join(unknown)}.")
        posted = {**self.values, **fields}
        if button is not None:
            if button not in self.buttons:
                raise FormNotFound(f"The form {self.action} has no button {button}.")
            posted[button] = self.buttons[button]
        return posted


class FormNotFound(LookupError):
    """The page has no such form or field: the shop's pages are not what the simulated shopper expects."""


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = HtmlForm(
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
                attributes=attributes,
            )
            self.forms.append(self._form)
        elif self._form is not None:
            self._field(tag, attributes)

    def _field(self, tag: str, attributes: dict[str, str]) -> None:
        form = self._form
        assert form is not None
        name = attributes.get("name")
        kind = attributes.get("type", "").lower()
        if tag == "input" and name:
            if kind == "submit":
                form.buttons[name] = attributes.get("value", "")
            elif kind in _VALUE_INPUT_TYPES:
                form.values[name] = attributes.get("value", "")
            elif kind == "radio":
                form.radios.setdefault(name, []).append(attributes.get("value", "on"))
                if "checked" in attributes:
                    form.values[name] = attributes.get("value", "on")
        elif tag == "button" and name and kind in ("submit", ""):
            form.buttons[name] = attributes.get("value", "")
        elif tag == "select" and name:
            form.selects.add(name)
            self._select = name
        elif tag == "option" and self._select and "selected" in attributes:
            form.values[self._select] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def parse_forms(html: str) -> list[HtmlForm]:
    """Every form of the page, in document order."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def find_form(html: str, action_ending: str) -> HtmlForm:
    """The page's form whose action ends with ``action_ending`` (e.g. "/points/verify"); FormNotFound if none."""
    for form in parse_forms(html):
        if form.action.split("?", 1)[0].endswith(action_ending):
            return form
    raise FormNotFound(f"No form posting to …{action_ending} on this page.")


def find_form_with(html: str, field_name: str) -> HtmlForm:
    """The page's first form with a field ``field_name`` (for pages whose forms post back to themselves)."""
    for form in parse_forms(html):
        if form.has_field(field_name):
            return form
    raise FormNotFound(f"No form with a field {field_name} on this page.")


def has_form_with(html: str, field_name: str) -> bool:
    try:
        find_form_with(html, field_name)
    except FormNotFound:
        return False
    return True


def has_form(html: str, action_ending: str) -> bool:
    try:
        find_form(html, action_ending)
    except FormNotFound:
        return False
    return True
