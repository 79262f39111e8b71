"""A simulated shopper's browser: a cookie session on one site (the shop, or the bank's own redemption site) that
opens pages and submits their real forms."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import requests

from .html_forms import FormNotFound, HtmlForm, find_form, find_form_with, parse_forms
from .sandbox import AppUnreachable, SimulationError

TIMEOUT_SECONDS = 30
FLASH = re.compile(r'<p class="alert alert--(?:error|warning)">([^<]+)</p>')


class ShopBrowser:
    """One shopper's session on the shop at ``shop_url`` (its own cookies: its own sign-in, cart and CSRF token)."""

    def __init__(self, shop_url: str, session: requests.Session | None = None, site: str = "The shop") -> None:
        self.shop_url = shop_url.rstrip("/")
        self.site = site  # who did not answer, in errors
        self.session = session or requests.Session()
        self.session.headers.update({"Accept-Language": "en"})
        self.page = ""  # the HTML of the page last opened
        self.path = ""

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = urljoin(self.shop_url + "/", path.lstrip("/"))
        try:
            response = self.session.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.ConnectionError as error:
            raise AppUnreachable(f"{self.site} at {self.shop_url} did not answer {method} {path} ({error}).") from error
        except requests.RequestException as error:  # a timeout: this step failed, the shop may well be there
            raise SimulationError(f"{method} {path} got no answer in time ({error}).") from error
        if response.status_code >= 500:
            raise SimulationError(f"{method} {path} answered {response.status_code}.")
        return response

    def open(self, path: str) -> str:
        """GET the page (following redirects) and keep it as the current page; its HTML."""
        response = self._request("GET", path)
        if response.status_code != 200:
            raise SimulationError(f"GET {path} answered {response.status_code}.")
        self.page = response.text
        self.path = urlsplit(response.url).path
        return self.page

    def submit(self, action_ending: str, button: str | None = None, **fields: str) -> str:
        """Submit the current page's form posting to …``action_ending``; returns where the shop sent us.

        The form's own values (its CSRF token first of all) go with ``fields``. A redirect is followed and
        becomes the current page; a page answered straight away (a form with errors, 422) is the current page.
        """
        try:
            form = find_form(self.page, action_ending)
        except FormNotFound as error:
            raise SimulationError(f"On {self.path}: {error}") from error
        return self._post_form(form, button, fields)

    def submit_form_with(self, field_name: str, button: str | None = None, **fields: str) -> str:
        """Submit the current page's form that has a field ``field_name`` (as ``submit``)."""
        try:
            form = find_form_with(self.page, field_name)
        except FormNotFound as error:
            raise SimulationError(f"On {self.path}: {error}") from error
        return self._post_form(form, button, fields)

    def _post_form(self, form: HtmlForm, button: str | None, fields: dict[str, str]) -> str:
        try:
            data = form.data(button, **fields)
        except FormNotFound as error:
            raise SimulationError(f"On {self.path}: {error}") from error
        # A form without an action posts back to the page it is on, as a browser does.
        response = self._request("POST", form.action or self.path, data=data, allow_redirects=False)
        if response.status_code in (301, 302, 303):
            location = urlsplit(response.headers["Location"]).path
            self.open(location)
            return location
        if response.status_code in (200, 422):
            self.page = response.text
            return self.path
        raise SimulationError(f"POST {form.action} answered {response.status_code}{self.flash_note()}.")

    def post_with_page_token(self, path: str, **fields: str) -> str:
        """POST ``fields`` to ``path`` with the current page's CSRF token (one per session, whatever the form).

        For a switch that lives on another page (the flow switch of the insights page); redirects followed.
        """
        token = next((form.values["csrf_token"] for form in parse_forms(self.page) if "csrf_token" in form.values), "")
        if not token:
            raise SimulationError(f"{self.path} has no form with a CSRF token to post {path} with.")
        response = self._request("POST", path, data={"csrf_token": token, **fields}, allow_redirects=False)
        if response.status_code not in (200, 301, 302, 303):
            raise SimulationError(f"POST {path} answered {response.status_code}.")
        if response.status_code != 200:
            self.open(urlsplit(response.headers["Location"]).path)
        return self.path

    def flash_note(self) -> str:
        """The page's flash messages, for an error's text (empty when there are none)."""
        messages = [message.strip() for message in FLASH.findall(self.page) if message.strip()]
        return f" ({'; '.join(messages)})" if messages else ""
