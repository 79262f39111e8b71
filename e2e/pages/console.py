"""The Summit Bank sandbox console as a tester uses it: sign in, the phone, a card's ledger, the controls."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from ..harness import CONSOLE_PASSWORD


class ConsolePage:
    """One tester's browser tab on the sandbox console."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url.rstrip("/")

    def goto(self, path: str = "/") -> None:
        self.page.goto(f"{self.base_url}{path}")

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    def sign_in(self, password: str = CONSOLE_PASSWORD) -> None:
        self.goto("/login")
        self.page.get_by_label("Console password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    def nav(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Console").get_by_role("link", name=name).click()

    # --- Phone ------------------------------------------------------------------------------------

    def open_phone(self, mobile: str) -> None:
        """The SMS outbox of one mobile, as the cardholder's phone shows it."""
        self.nav("Phone")
        expect(self.heading).to_have_text("Phone")
        self.page.get_by_label("Mobile number").select_option(mobile)
        self.page.get_by_role("button", name="Show messages").click()
        expect(self.messages_list).to_be_visible()

    @property
    def messages_list(self) -> Locator:
        return self.page.get_by_role("list", name=re.compile("^Messages to"))

    @property
    def messages(self) -> Locator:
        return self.messages_list.get_by_role("listitem")

    # --- Cards and the ledger ---------------------------------------------------------------------

    def open_card(self, last4: str) -> None:
        self.nav("Cards")
        self.page.get_by_role("link", name=re.compile(f"{last4}$")).first.click()
        expect(self.heading).to_contain_text(f"card ending {last4}")

    @property
    def ledger_rows(self) -> Locator:
        return self.page.get_by_role("table", name=re.compile("points account")).locator("tbody tr")

    @property
    def points_balance(self) -> Locator:
        return self.page.locator(".facts").get_by_role("strong").first

    # --- Controls ---------------------------------------------------------------------------------

    def open_controls(self) -> None:
        self.nav("Controls")
        expect(self.heading).to_have_text("Controls")

    def add_fault(
        self,
        endpoint: str,
        *,
        latency_ms: int | None = None,
        error_status: int | None = None,
        error_code: str | None = None,
        fail_times: int | None = None,
        drop_response: bool = False,
    ) -> None:
        """Fill the fault injection form and add the rule."""
        self.page.get_by_label("Endpoint").select_option(endpoint)
        if latency_ms is not None:
            self.page.get_by_label("Added latency (ms)").fill(str(latency_ms))
        if error_status is not None:
            self.page.get_by_label("Forced HTTP status").fill(str(error_status))
        if error_code is not None:
            self.page.get_by_label("Error code").fill(error_code)
        if fail_times is not None:
            self.page.get_by_label("Fail this many times, then recover").fill(str(fail_times))
        if drop_response:
            self.page.get_by_label("Commit, then drop the response").check()
        self.page.get_by_role("button", name="Add fault").click()

    @property
    def fault_rules(self) -> Locator:
        return self.page.get_by_role("list", name="Active fault rules").get_by_role("listitem")
