"""The catalogue's search form (GET, no CSRF: it changes nothing)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from ..validation import ShopForm

SORT_CHOICES = [
    SelectChoice("relevance", _l("Best match")),
    SelectChoice("price_asc", _l("Price: low to high")),
    SelectChoice("price_desc", _l("Price: high to low")),
]


class SearchForm(ShopForm):
    """The GET search form; no CSRF because it changes nothing."""

    class Meta:
        csrf = False

    q = StringField(_l("Search for"), filters=[lambda v: v.strip() if isinstance(v, str) else v])
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    sort = SelectField(_l("Sort by"), choices=SORT_CHOICES, default="relevance", validate_choice=False)
