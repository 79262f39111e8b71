"""The few calls of Summit Bank's sandbox API the simulation needs (test cardholders, the SMS outbox), over HTTP.

The sandbox's JSON twin under /sandbox/api is guarded by the X-Sandbox-Key header. The shop never imports the
issuer's code; this is a tester's client, not the shop's partner client (issuer_client.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests

TIMEOUT_SECONDS = 15
SMS_WAIT_SECONDS = 10
SMS_POLL_SECONDS = 0.2


SITE_LINK = re.compile(r"https?://\S+")


def _is_wanted(message: dict[str, Any], wanted: str) -> bool:
    if wanted == "otp":
        return bool(message.get("otp"))
    return SITE_LINK.search(message.get("body", "")) is not None


class SimulationError(Exception):
    """A step of a simulated journey could not be done (the message says which and why)."""


class AppUnreachable(SimulationError):
    """An app does not answer at its URL, or answers as something else."""


@dataclass(frozen=True)
class TestCard:
    """A test cardholder's card as the sandbox made it: the full number is answered once, in demo mode."""

    number: str
    last4: str
    mobile: str
    holder: str


class SandboxApi:
    """The sandbox API of the issuer at ``issuer_url``."""

    def __init__(self, issuer_url: str, sandbox_key: str, session: requests.Session | None = None) -> None:
        self.issuer_url = issuer_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"X-Sandbox-Key": sandbox_key, "Accept": "application/json"})

    def _call(self, method: str, path: str, expected: tuple[int, ...], **kwargs: Any) -> Any:
        url = f"{self.issuer_url}/sandbox/api{path}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.ConnectionError as error:
            raise AppUnreachable(f"Summit Bank's sandbox at {self.issuer_url} did not answer ({error}).") from error
        except requests.RequestException as error:  # a timeout: this step failed
            raise SimulationError(f"{method} /sandbox/api{path} got no answer in time ({error}).") from error
        if response.status_code == 401:
            raise AppUnreachable(
                f"Summit Bank's sandbox at {self.issuer_url} refused the sandbox key "
                "(--sandbox-key / ISSUER_SANDBOX_KEY)."
            )
        if response.status_code == 404 and path == "/cardholders":
            raise AppUnreachable(
                f"Summit Bank's sandbox controls are off at {self.issuer_url} (ISSUER_SANDBOX_CONTROLS=on is needed "
                "to create test cardholders)."
            )
        if response.status_code not in expected:
            raise SimulationError(f"{method} /sandbox/api{path} answered {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError as error:
            raise SimulationError(f"{method} /sandbox/api{path} answered something that is not JSON.") from error

    def check(self) -> None:
        """Raise AppUnreachable unless the sandbox answers with this key (its clock is the cheapest call)."""
        self._call("GET", "/clock", expected=(200,))

    def create_cardholder(self, name: str, mobile: str, points: int) -> TestCard:
        """A new Rewards cardholder with one card and these opening points."""
        body = {"name": name, "mobile": mobile, "programme": "REWARDS", "points": points, "creditLimit": "50000.00"}
        answer = self._call("POST", "/cardholders", expected=(201,), json=body)
        number = answer.get("number")
        if not isinstance(number, str) or not number.isdigit():
            raise AppUnreachable(
                "The sandbox did not answer the new card's number: it answers it only in demo mode (ISSUER_ENV=demo)."
            )
        return TestCard(number=number, last4=number[-4:], mobile=answer.get("mobile", mobile), holder=answer["holder"])

    def sms(self, phone: str, customer_reference: str | None = None) -> list[dict[str, Any]]:
        """Messages the bank sent to ``phone`` (for this merchant customer, when given), newest first."""
        params = {"phone": phone}
        if customer_reference:
            params["merchantCustomerReferenceId"] = customer_reference
        return self._call("GET", "/sms", expected=(200,), params=params)

    def _wait_for(self, phone: str, customer_reference: str | None, newer_than: int, wanted: str) -> dict[str, Any]:
        """The newest SMS above ``newer_than`` to this phone for which ``wanted`` says yes (polled, bounded)."""
        deadline = time.monotonic() + SMS_WAIT_SECONDS
        while True:
            messages = [message for message in self.sms(phone, customer_reference) if message["id"] > newer_than]
            if messages and _is_wanted(messages[0], wanted):
                return messages[0]
            if time.monotonic() > deadline:
                what = "one-time password" if wanted == "otp" else "link to the bank's site"
                raise SimulationError(f"No {what} reached {phone} within {SMS_WAIT_SECONDS} s.")
            time.sleep(SMS_POLL_SECONDS)  # another process sends the SMS: poll, bounded

    def wait_for_otp(self, phone: str, customer_reference: str | None, newer_than: int) -> str:
        """The code of the first SMS with an id above ``newer_than`` to this phone (and customer, when given)."""
        return self._wait_for(phone, customer_reference, newer_than, "otp")["otp"]

    def wait_for_site_link(self, phone: str, newer_than: int) -> str:
        """The link to the bank's own redemption site in the first SMS above ``newer_than`` to this phone."""
        message = self._wait_for(phone, None, newer_than, "link")
        return SITE_LINK.search(message["body"]).group()

    def latest_sms_id(self, phone: str, customer_reference: str | None = None) -> int:
        messages = self.sms(phone, customer_reference)
        return max((message["id"] for message in messages), default=0)
