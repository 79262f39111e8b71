"""Chaos: ten shoppers pay with points while issuer workers are killed at random; reconcile leaves nothing unknown.

Each shopper has a cardholder of their own (created through the sandbox API) and walks the checkout over HTTP
(requests, reading each form's CSRF token): sign up, cart, delivery, card payment, enrol, OTP, points. A killer
thread sends SIGKILL to random issuer gunicorn workers (the master starts new ones) while they do. Afterwards
`flask --app shop reconcile` must leave no order unknown, each order's points must equal what the issuer took
from that card, and `flask --app issuer_sandbox ledger-check` must be clean.

The kills are drawn from a seeded random generator: the seed is printed (and in every assertion message), and
CHAOS_SEED=<seed> replays the same kill schedule.
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
import sqlalchemy as sa

from .harness import E2E_SHOP_SETTINGS, Apps, flask_command, gunicorn_workers, start_apps
from .sandbox_api import SandboxApi, eventually

SHOPPERS = 10
OPENING_POINTS = 100_000
POINTS_TO_USE = 10_000  # HK$40 of the HK$368 order, at the Rewards rate (250 points = HK$1)
PRODUCT_SLUG = "power-bank-10000"
PASSWORD = "correct-horse-42"
ISSUER_WORKERS = "3"
MAX_KILLS = 12
KILL_PAUSE_SECONDS = (0.2, 1.0)
ATTEMPTS_PER_STEP = 4
OTP_READ_SECONDS = 20
RUN_TIMEOUT_SECONDS = 240
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PRODUCT_ID = re.compile(r'name="product_id"[^>]*value="(\d+)"')
ORDER_REFERENCE = re.compile(r"/checkout/(HM-\d+)/payment")


@pytest.fixture(scope="session")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    """This module's own pair, in place of conftest's (its orders are this test's only): three issuer workers."""
    flags = ("--workers", ISSUER_WORKERS, "--graceful-timeout", "3", "--access-logfile", "-")
    started = start_apps(tmp_path_factory.mktemp("chaos"), shop_settings=E2E_SHOP_SETTINGS, server_flags=flags)
    try:
        yield started
    finally:
        started.stop()


@dataclass
class Killer:
    """SIGKILL to a random issuer worker every so often (seeded), until stopped or MAX_KILLS."""

    master_pid: int
    rng: random.Random
    killed: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while len(self.killed) < MAX_KILLS and not self.stop.wait(self.rng.uniform(*KILL_PAUSE_SECONDS)):
            workers = gunicorn_workers(self.master_pid)
            if not workers:
                continue  # all being restarted
            victim = self.rng.choice(workers)
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                continue
            self.killed.append(victim)


class Shopper:
    """One shopper's session on the shop, driving its forms over HTTP; every step retried a few times."""

    def __init__(self, shop_url: str, sandbox: SandboxApi, card_number: str, mobile: str):
        self.shop_url = shop_url.rstrip("/")
        self.sandbox = sandbox
        self.card_number = card_number
        self.mobile = mobile
        self.session = requests.Session()
        self.reference = ""
        self.steps: list[str] = []
        self.error: BaseException | None = None

    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request, sent again once if the shop's kept-alive connection was reset under it.

        The killer shoots the issuer's workers, never the shop's: a reset from the shop is its gunicorn closing
        an idle keep-alive connection (after `keepalive` seconds, gunicorn.conf.py) just as the next request
        went out on it, which happens when a step waited about that long on the bank. A browser sends the
        request again on a new connection in that case; so does this shopper, once.
        """
        try:
            return self.session.request(method, url, timeout=60, **kwargs)
        except requests.ConnectionError as error:
            if "Connection aborted" not in str(error):  # urllib3's words for a connection dropped under a request
                raise
            self.steps.append(f"{method} {url.removeprefix(self.shop_url)}: connection aborted, sent again")
            return self.session.request(method, url, timeout=60, **kwargs)

    def get(self, path: str) -> requests.Response:
        return self._send("GET", f"{self.shop_url}{path}")

    def post(self, path: str, form_path: str, data: dict) -> requests.Response:
        """POST ``data`` to ``path`` with the CSRF token of the page at ``form_path``; redirects not followed."""
        token = CSRF.search(self.get(form_path).text)
        assert token, f"no CSRF token on {form_path}"
        response = self._send(
            "POST", f"{self.shop_url}{path}", data={"csrf_token": token.group(1), **data}, allow_redirects=False
        )
        self.steps.append(f"POST {path} -> {response.status_code} {response.headers.get('Location', '')}")
        return response

    def read_otp(self) -> str:
        """The newest code in the sandbox's SMS outbox, read again when a kill cuts the read off.

        The outbox is served by the issuer's workers, which the killer shoots: a phone does not lose its SMS.
        So the read is tried again for up to OTP_READ_SECONDS, long enough for the master to have a worker
        loaded and listening again should every worker have been down at once.
        """
        deadline = time.monotonic() + OTP_READ_SECONDS
        while True:
            try:
                return self.sandbox.latest_otp(self.mobile)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    def status(self) -> str:
        match = re.search(r'data-testid="order-status">([^<]+)<', self.get(f"/orders/{self.reference}").text)
        return match.group(1) if match else ""

    def run(self) -> None:
        try:
            self._check_out()
        except BaseException as error:  # reported by the test with the shopper's steps
            self.error = error

    def _check_out(self) -> None:
        email = f"chaos-{uuid.uuid4().hex[:12]}@example.com"
        account = {"name": "Chaos Shopper", "email": email, "phone": self.mobile, "password": PASSWORD}
        self.post("/account/sign-up", "/account/sign-up", {**account, "confirm": PASSWORD})
        product_page = f"/product/{PRODUCT_SLUG}"
        product_id = PRODUCT_ID.search(self.get(product_page).text).group(1)
        self.post("/cart/add", product_page, {"product_id": product_id, "quantity": "1"})
        delivery = {"name": "Chaos Shopper", "phone": self.mobile, "address": "1 Harbour Road", "district": "Wan Chai"}
        location = self.post("/checkout", "/checkout", delivery).headers["Location"]
        self.reference = ORDER_REFERENCE.search(location).group(1)
        self._pay()
        if self.status() == "Paid":
            self._use_points()

    def _pay(self) -> None:
        payment = f"/checkout/{self.reference}/payment"
        card = {"card_number": self.card_number, "expiry": "12/30", "cvc": "123", "holder_name": "CHAOS SHOPPER"}
        for _ in range(ATTEMPTS_PER_STEP):
            if self.status() != "Awaiting payment":
                return
            self.post(payment, payment, card)

    def _use_points(self) -> None:
        points_page = f"/checkout/{self.reference}/points"
        for _ in range(ATTEMPTS_PER_STEP):
            if self.status() != "Paid":
                return
            page = self.get(points_page).text
            if 'name="otp"' in page:
                otp = self.read_otp()
                self.post(f"{points_page}/verify", points_page, {"otp": otp})
            elif 'name="points"' in page:
                data = {"points": str(POINTS_TO_USE), "submit": "Use points"}
                self.post(f"{points_page}/redeem", points_page, data)
                return  # one try: a shopper told "we could not confirm your points" walks away; reconcile settles it
            elif 'name="phone"' in page:
                self.post(f"{points_page}/send-code", points_page, {"phone": self.mobile})
            else:
                # The bank could not be asked for the balance (a worker was killed): check again, then retry.
                self.post(f"/orders/{self.reference}/check", f"/orders/{self.reference}", {})


def shop_orders(shop_env: dict[str, str], references: list[str]) -> dict[str, sa.Row]:
    engine = sa.create_engine(shop_env["SHOP_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT reference, status, points_used, points_reversed, payment_check_needed, "
                    "points_check_needed, pending_cancellation FROM orders"
                )
            ).all()
    finally:
        engine.dispose()
    return {row.reference: row for row in rows if row.reference in references}


def test_ten_shoppers_paying_with_points_while_issuer_workers_are_killed_leave_nothing_unknown(apps: Apps):
    seed = int(os.environ.get("CHAOS_SEED", random.SystemRandom().randrange(2**32)))
    rng = random.Random(seed)
    print(f"chaos seed {seed} (replay with CHAOS_SEED={seed})")
    sandbox = SandboxApi(apps.issuer_url)
    mobiles = [f"6{number:07d}" for number in rng.sample(range(10**7), SHOPPERS)]
    shoppers = []
    for index, mobile in enumerate(mobiles):
        card = sandbox.create_cardholder(f"CHAOS SHOPPER {chr(ord('A') + index)}", mobile, OPENING_POINTS)
        shoppers.append(Shopper(apps.shop_url, sandbox, card["number"], mobile))
    killer = Killer(apps.issuer.process.pid, rng)

    threads = [threading.Thread(target=shopper.run, name=f"shopper-{i}") for i, shopper in enumerate(shoppers)]
    killer_thread = threading.Thread(target=killer.run, name="killer")
    killer_thread.start()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    killer.stop.set()
    killer_thread.join(10)
    context = f"(chaos seed {seed}, {len(killer.killed)} workers killed)"
    assert not any(thread.is_alive() for thread in threads), f"shoppers still running after the deadline {context}"
    failures = [(shopper.reference, repr(shopper.error), shopper.steps[-5:]) for shopper in shoppers if shopper.error]
    assert not failures, f"{failures} {context}"
    assert killer.killed, f"no worker was killed {context}"
    apps.issuer.wait_healthy()
    eventually(lambda: len(gunicorn_workers(apps.issuer.process.pid)) == int(ISSUER_WORKERS), 30, "workers back")

    # Every intent is now stale: no shop worker is waiting on the bank any more.
    result = flask_command("shop", apps.shop.env, "reconcile", "--stale-after", "0", timeout=120)
    print(f"{len(killer.killed)} issuer workers killed; reconcile said:\n{result.stdout}{result.stderr}")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr} {context}"
    again = flask_command("shop", apps.shop.env, "reconcile", "--stale-after", "0", timeout=120)
    assert "0 changed, 0 still unknown" in again.stdout, f"{again.stdout} {context}"

    references = [shopper.reference for shopper in shoppers]
    orders = shop_orders(apps.shop.env, references)
    assert sorted(orders) == sorted(references), context
    unknown = [
        ref
        for ref, order in orders.items()
        if order.payment_check_needed or order.points_check_needed or order.pending_cancellation
    ]
    assert not unknown, f"orders still unknown after reconcile: {unknown} {context}\n{result.stdout}"
    for shopper in shoppers:
        order = orders[shopper.reference]
        last4 = shopper.card_number[-4:]
        taken = -sum(entry["points"] for entry in sandbox.redemption_debits(last4))
        returned = sum(entry["points"] for entry in sandbox.reversal_credits(last4))
        kept = order.points_used - order.points_reversed
        message = f"{shopper.reference}: the issuer took {taken - returned} points, the order says {kept} {context}"
        assert taken - returned == kept, message
        assert sandbox.points(last4) == OPENING_POINTS - kept, f"{shopper.reference} {context}"
    with_points = sum(1 for order in orders.values() if order.points_used)
    print(f"{with_points} of {SHOPPERS} orders paid with points; statuses {sorted(o.status for o in orders.values())}")
    assert with_points, f"no shopper managed to use points {context}"

    ledger = flask_command("issuer_sandbox", apps.issuer.env, "ledger-check", timeout=120)
    assert ledger.returncode == 0, f"{ledger.stdout}\n{ledger.stderr} {context}"
