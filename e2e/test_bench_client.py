"""The bench's shopper client reads a step's form the way a browser would send it (no apps needed)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from e2e.bench import form_fields

PAGE = """<!doctype html><html><body>
<header><form class="search" action="/search" method="get"><input name="q" value="rice"></form></header>
<form method="post" action="http://127.0.0.1:8100/checkout/HM-1/points/send-code?from=page&amp;x=1">
  <input id="csrf_token" name="csrf_token" type="hidden" value="tok&amp;en">
  <input name="phone" type="tel" value="91234567">
  <input name="remember" type="checkbox" value="y">
  <input name="choice" type="radio" value="a">
  <input type="submit" name="submit" value="Send code">
</form>
<FORM action='/checkout/HM-1/points/redeem' method="post">
  <input name="csrf_token" type="hidden" value="tok&amp;en"/>
  <input name="points" type="number" value="4000">
  <input name="note">
  <button type="submit">Use points</button>
</FORM>
</body></html>"""


@dataclass
class FakeResponse:
    text: str
    url: str = "http://127.0.0.1:8100/checkout/HM-1/points"
    status_code: int = 200


def test_the_form_posting_to_the_action_gives_its_inputs_as_a_browser_sends_them():
    page = FakeResponse(PAGE)
    assert form_fields(page, "/checkout/HM-1/points/send-code") == {"csrf_token": "tok&en", "phone": "91234567"}
    assert form_fields(page, "/checkout/HM-1/points/redeem") == {"csrf_token": "tok&en", "points": "4000", "note": ""}
    assert form_fields(page, "/search") == {"q": "rice"}


def test_a_page_without_that_form_is_an_error_naming_the_action_and_the_page():
    with pytest.raises(RuntimeError, match=r"no form posting to /cart/add on /checkout/HM-1/points \(HTTP 200\)"):
        form_fields(FakeResponse(PAGE), "/cart/add")
