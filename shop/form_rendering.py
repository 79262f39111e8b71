"""WTForms' attribute writer, made cheap: every input, label, button and option of every form goes through it.

``wtforms.widgets.html_params`` builds each ``key="value"`` with ``Markup.format``, whose string.Formatter
machinery made it ~10 % of a checkout page's CPU (the district select alone calls it 19 times). ``html_params``
here writes exactly the same text (same order, same escaping: ``&#34;`` for a quote in plain text, ``&quot;``
for one inside markup) with plain string operations; ``shop/tests/test_form_rendering.py`` checks it against
WTForms' own over awkward values, and that the forms' HTML does not change.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets import core as widgets_core
from wtforms.widgets.core import clean_key

wtforms_html_params = widgets_core.html_params


def html_params(**kwargs: Any) -> Markup:
    """``wtforms.widgets.html_params`` with the same output: sorted ``key="value"`` pairs, ``key`` for True."""
    params = []
    for key, value in sorted(kwargs.items()):
        if value is False:
            continue
        key = escape(clean_key(key))
        if value is True:
            params.append(key)
        else:
            params.append(f'{key}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))


def install() -> None:
    """Use ``html_params`` wherever WTForms looks it up: the module functions and the widgets' own copies."""
    widgets_core.html_params = html_params
    widgets.html_params = html_params  # what Label calls (wtforms.fields.core looks it up there)
    for widget in (widgets_core.Input, widgets_core.Button):
        widget.html_params = staticmethod(html_params)
