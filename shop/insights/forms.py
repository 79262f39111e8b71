"""The insights page's forms: the report filter (a GET form, no CSRF: it changes nothing) and the flow switch."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Field, HiddenField, RadioField, SelectChoice, SelectField, SubmitField
from wtforms.validators import ValidationError
from wtforms.widgets import DateInput

from ..checkout.flow import FLOWS
from ..validation import ShopForm
from .queries import FLOW_CHOICES

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only (strptime's %Y takes '２０２６')
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
MAX_RANGE_DAYS = 366


class DayField(Field):
    """A calendar day typed or picked as YYYY-MM-DD, with a message that says what was wrong."""

    widget = DateInput()

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return self.data.isoformat() if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        self.data = None
        if not text:
            raise ValueError(_l("Enter a date."))
        if not ISO_DATE.fullmatch(text):
            raise ValueError(_l("Enter the date as YYYY-MM-DD, for example 2026-10-03."))
        try:
            self.data = date.fromisoformat(text)
        except ValueError:
            raise ValueError(_l("%(text)s is not a date on the calendar.", text=text)) from None
        if not EARLIEST_DAY <= self.data <= LATEST_DAY:
            self.data = None
            raise ValueError(_l("Choose a day between 2000 and 2099."))


class InsightsFilterForm(ShopForm):
    """Which purchases the figures cover. Read from the query string, so a view of the figures is a link."""

    class Meta:
        csrf = False  # a GET form that only reads

    start = DayField(_l("From"), description=_l("Hong Kong day, YYYY-MM-DD"))
    end = DayField(_l("To (inclusive)"), description=_l("Hong Kong day, YYYY-MM-DD"))
    flow = SelectField(
        _l("Flow"),
        choices=[
            SelectChoice("all", _l("All flows")),
            SelectChoice("native", _l("Native (points at checkout)")),
            SelectChoice("legacy", _l("Legacy (bank's site)")),
        ],
        default="all",
    )
    hide_simulated = BooleanField(_l("Hide simulated journeys"))

    def validate_flow(self, field: SelectField) -> None:
        if field.data not in FLOW_CHOICES:
            raise ValidationError(_l("Choose one of the flows."))

    def validate_end(self, field: DayField) -> None:
        start, end = self.start.data, field.data
        if start is None or end is None:
            return
        if end < start:
            raise ValidationError(_l("The last day must be on or after the first day."))
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise ValidationError(_l("Choose at most %(days)d days.", days=MAX_RANGE_DAYS))


class FlowForm(ShopForm):
    """Switch the Pay with Points flow this browser session sees (only the caller's own session)."""

    flow = RadioField(
        _l("Pay with Points flow for this browser"),
        choices=[
            SelectChoice("native", _l("Native: points at the shop's checkout")),
            SelectChoice("legacy", _l("Legacy: the bank's SMS and its own redemption site")),
        ],
    )
    next = HiddenField()
    submit = SubmitField(_l("Switch flow"))

    def validate_flow(self, field: RadioField) -> None:
        if field.data not in FLOWS:
            raise ValidationError(_l("Choose the native or the legacy flow."))
