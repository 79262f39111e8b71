"""Plain HTTP helpers for the issuer: the sandbox JSON controls and the partner API, as a tester calls them."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import requests

from .harness import SANDBOX_KEY

CLIENT_ID = "harbour-mall"
CLIENT_SECRET = "harbour-mall-secret"
REWARDS = "/v1/apac/rewards"


class SandboxApi:
    """The sandbox's JSON twin under /sandbox/api, guarded by X-Sandbox-Key."""

    def __init__(self, base_url: str, key: str = SANDBOX_KEY):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"X-Sandbox-Key": key, "Accept": "application/json"})

    def _call(self, method: str, path: str, expected: tuple[int, ...] = (200,), **kwargs) -> Any:
        response = self.session.request(method, f"{self.base_url}/sandbox/api{path}", timeout=30, **kwargs)
        assert response.status_code in expected, f"{method} {path} -> {response.status_code}: {response.text[:500]}"
        return response.json() if response.content else None

    # Reset and clock
    def reset(self) -> None:
        """Restore the seed state: cards, points, links, SMS, faults and the clock."""
        self._call("POST", "/reset", expected=(200, 204))

    def advance_clock(self, seconds: int) -> Any:
        return self._call("POST", "/clock/advance", json={"seconds": seconds}, expected=(200, 201))

    # SMS outbox
    def sms(self, phone: str = "", *, link_code: str = "", customer: str = "") -> list[dict]:
        """Messages the bank sent, newest first: {id, phone, body, sentAt, otp, rewardLinkCode,
        merchantCustomerReferenceId}; to `phone`, for the link `link_code`, for the merchant customer `customer`
        (each filter when given). Tests sharing a card filter by link or customer, or they read others' codes."""
        params = {"phone": phone, "rewardLinkCode": link_code, "merchantCustomerReferenceId": customer}
        return self._call("GET", "/sms", params={name: value for name, value in params.items() if value})

    def otp_messages(self, phone: str = "", **link) -> list[str]:
        return [message["body"] for message in self.sms(phone, **link)]

    def latest_otp(self, phone: str = "", **link: str) -> str:
        """The code in the newest matching SMS (see `sms`), as the sandbox reads it out of the text."""
        messages = self.sms(phone, **link)
        assert messages, f"no SMS was sent to {phone or link}"
        assert messages[0]["otp"], f"no one-time password in {messages[0]['body']!r}"
        assert messages[0]["otp"] in messages[0]["body"]
        return messages[0]["otp"]

    def wait_for_otp(self, phone: str = "", count: int = 1, timeout: float = 10, **link: str) -> str:
        """The newest code once at least `count` matching messages were sent (polled, bounded)."""
        eventually(lambda: len(self.sms(phone, **link)) >= count, timeout, f"{count} SMS to reach {phone or link}")
        return self.latest_otp(phone, **link)

    # Cards and the ledger
    def create_cardholder(self, name: str, mobile: str, points: int, credit_limit: str = "50000.00") -> dict:
        """A new Rewards cardholder with one card (its number in the answer) and these opening points."""
        body = {"name": name, "mobile": mobile, "programme": "REWARDS", "points": points, "creditLimit": credit_limit}
        return self._call("POST", "/cardholders", json=body, expected=(201,))

    def card(self, last4: str) -> dict:
        """The card, its points balance, its ledger entries and its statement."""
        return self._call("GET", f"/cards/{last4}")

    def points(self, last4: str) -> int:
        return int(self.card(last4)["pointsBalance"])

    def ledger_entries(self, last4: str) -> list[dict]:
        return self.card(last4)["ledger"]

    def entries_of_kind(self, last4: str, kind: str) -> list[dict]:
        """This card's ledger entries of one transaction kind: ISSUE, ADJUST, REDEEM or REVERSE."""
        return [entry for entry in self.ledger_entries(last4) if entry["kind"] == kind]

    def redemption_debits(self, last4: str) -> list[dict]:
        """The entries that took points from this card for a redemption."""
        return self.entries_of_kind(last4, "REDEEM")

    def reversal_credits(self, last4: str) -> list[dict]:
        return self.entries_of_kind(last4, "REVERSE")

    def debits_for_order(self, last4: str, order_reference: str) -> list[dict]:
        """REDEEM entries whose description names the shop's order (the shop describes each redemption so)."""
        return [entry for entry in self.redemption_debits(last4) if order_reference in entry["description"]]

    def statement_kinds(self, last4: str) -> list[str]:
        return [line["kind"] for line in self.statement(last4)]

    def statement(self, last4: str) -> list[dict]:
        return self.card(last4)["statement"]

    # Controls
    def add_fault(
        self,
        endpoint: str,
        *,
        latency_ms: int = 0,
        error_status: int | None = None,
        error_code: str | None = None,
        fail_times: int | None = None,
        drop_response_after_commit: bool = False,
    ) -> dict:
        """Inject a fault on a Flask endpoint of the issuer (e.g. 'redemptions.redeem')."""
        body: dict[str, Any] = {"endpoint": endpoint, "latencyMs": latency_ms}
        if error_status is not None:
            body["errorStatus"] = error_status
        if error_code is not None:
            body["errorCode"] = error_code
        if fail_times is not None:
            body["failTimes"] = fail_times
        if drop_response_after_commit:
            body["dropResponseAfterCommit"] = True
        return self._call("POST", "/faults", json=body, expected=(200, 201))

    def faults(self) -> list[dict]:
        return self._call("GET", "/faults")["faults"]

    def delete_fault(self, fault_id: int) -> None:
        self._call("DELETE", f"/faults/{fault_id}", expected=(204,))

    def adjust_points(self, last4: str, delta: int, reason: str = "e2e adjustment") -> dict:
        """One ADJUST ledger transaction, as the console's control posts it."""
        return self._call("POST", f"/cards/{last4}/points", json={"delta": delta, "reason": reason})

    def freeze(self, last4: str) -> None:
        self._call("POST", f"/cards/{last4}/freeze")

    def links(self, status: str | None = None) -> list[dict]:
        return self._call("GET", "/links", params={"status": status} if status else {})["links"]

    def ledger_health(self) -> dict:
        return self._call("GET", "/ledger/health")

    def request_log(self, **params) -> list[dict]:
        """Partner API calls, newest first; filters: status, path, limit."""
        return self._call("GET", "/requests", params=params)


def eventually(condition, timeout: float = 10, what: str = "the condition") -> None:
    """Poll `condition` until it holds (bounded): for state that another process changes, never a fixed wait."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.1)


class PartnerApi:
    """The partner API over real HTTP, with a token and the partner headers of DESIGN.md."""

    def __init__(self, base_url: str, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.session = requests.Session()
        self._token: str | None = None

    def fetch_token(self) -> requests.Response:
        credentials = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return self.session.post(
            f"{self.base_url}/gcb/api/clientCredentials/oauth2/token/hk/gcb",
            data={"grant_type": "client_credentials", "scope": "/api"},
            headers={"Authorization": f"Basic {credentials}", "Accept": "application/json"},
            timeout=10,
        )

    def token(self) -> str:
        if self._token is None:
            response = self.fetch_token()
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {self.token()}",
            "client_id": self.client_id,
            "uuid": str(uuid.uuid4()),
            "Accept": "application/json",
            **kwargs.pop("headers", {}),
        }
        return self.session.request(method, f"{self.base_url}{path}", headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def link_card(self, sandbox: SandboxApi, last4: str, mobile: str, customer: str) -> str:
        """Enrol the card, read the OTP from the sandbox's SMS outbox and activate: an ACTIVE link code."""
        enrol = self.post(
            f"{REWARDS}/linkage",
            json={
                "lastFourDigitsCardNumber": last4,
                "citiCardHolderPhoneNumber": mobile,
                "merchantCustomerReferenceId": customer,
            },
        )
        assert enrol.status_code == 200, f"enrol {last4} -> {enrol.status_code}: {enrol.text[:300]}"
        link = enrol.json()
        if link["linkStatus"] != "ACTIVE":
            # This enrolment's own code: another test or benchmark shopper may be enrolling the same card.
            confirmation = {"linkageConfirmationCode": sandbox.latest_otp(link_code=link["rewardLinkCode"])}
            activate = self.put(f"{REWARDS}/{link['rewardLinkCode']}/activations", json=confirmation)
            assert activate.status_code in (200, 204), f"activate -> {activate.status_code}: {activate.text[:300]}"
        return link["rewardLinkCode"]
