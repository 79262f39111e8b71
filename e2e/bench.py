"""Benchmark the issuer sandbox and the shop over loopback: `make bench` (or `python e2e/bench.py --requests 200`).

Starts the issuer under gunicorn with the Makefile's own GUNICORN line (free port, temporary SQLite file,
seeded), then measures token, balance, redemption and reversal calls from 4 concurrent clients: latency
p50/p95, throughput, and the gunicorn processes' peak RSS (VmHWM from /proc).

Then starts the shop the same way (its own seeded SQLite file, SHOP_ISSUER_URL pointing at that issuer) and
measures its pages from 4 concurrent shoppers (home, a category, search, a product, a filled cart, the sign-in
POST), then times complete Pay with Points checkouts over HTTP, one after another, through the real forms (a
fresh shopper each, the OTP read from the sandbox's SMS outbox), per step and for the whole journey.

Prints the tables and exits 0; it asserts nothing about timing, but exits 1 if any request failed unexpectedly.
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLIENT_ID = "harbour-mall"
CLIENT_SECRET = "harbour-mall-secret"
SANDBOX_KEY = "demo-sandbox-key"
TOKEN_PATH = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
REWARDS = "/v1/apac/rewards"
HAPPY_CARD = {"last4": "8741", "phone": "91234567"}
POINTS_PER_REDEMPTION = 1000  # the Rewards minimum; 25-point increments; reversed right after


def gunicorn_command(port: int, app_spec: str = "issuer_sandbox:create_app()") -> list[str]:
    """The Makefile's GUNICORN line (so the benchmark runs what `make demo` runs), bound to one port."""
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^GUNICORN\s*=\s*((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    if match is None:
        raise SystemExit("bench: no GUNICORN line in the Makefile")
    line = match.group(1).replace("\\\n", " ").replace("$(BIN)", str(BIN))
    return [*shlex.split(line), "--bind", f"127.0.0.1:{port}", app_spec]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- The server ---------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self) -> None:
        """SIGTERM the gunicorn process group, SIGKILL it if it lingers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                # The command name may hold spaces; the parent pid is the 2nd field after its ')'.
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.append(int(entry.name))
        return [self.process.pid, *sorted(children)]


def start_server(workdir: Path) -> Server:
    """The issuer sandbox on a free port with a fresh seeded SQLite file."""
    env = {
        **os.environ,
        "ISSUER_ENV": "demo",
        "ISSUER_DATABASE_URL": f"sqlite:///{workdir / 'issuer.sqlite3'}",
    }
    return start_app("issuer_sandbox", env, workdir / "gunicorn.log")


def start_shop(workdir: Path, issuer_url: str) -> Server:
    """The shop on a free port with a fresh seeded SQLite file, talking to the benchmark's issuer."""
    # The caller's SHOP_*/FLASK_* settings must not point the shop at someone else's data or issuer.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SHOP_", "FLASK_"))}
    env |= {
        "SHOP_ENV": "demo",
        "SHOP_DATABASE_URL": f"sqlite:///{workdir / 'shop.sqlite3'}",
        "SHOP_ISSUER_URL": issuer_url,
    }
    return start_app("shop", env, workdir / "shop-gunicorn.log")


def start_app(module: str, env: dict[str, str], log_path: Path) -> Server:
    """`flask --app <module> seed`, then gunicorn on a free port; returns once GET /healthz answers 200."""
    subprocess.run(
        [str(BIN / "flask"), "--app", module, "seed"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            gunicorn_command(port, f"{module}:create_app()"),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: gunicorn ({module}) exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)  # polling a process that is starting
    server.stop()
    raise SystemExit(f"bench: {module} did not become healthy in 30 s:\n{log_path.read_text()[-3000:]}")


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in KiB; 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


# --- The client ---------------------------------------------------------------------------------


class Partner:
    """One benchmark client: its own HTTP session (keep-alive) and the partner headers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.token = ""

    def get_token(self) -> requests.Response:
        response = self.session.post(
            f"{self.url}{TOKEN_PATH}",
            data={"grant_type": "client_credentials", "scope": "/api"},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=30,
        )
        response.raise_for_status()
        self.token = response.json()["access_token"]
        return response

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "client_id": CLIENT_ID,
            "uuid": str(uuid.uuid4()),
            "Accept": "application/json",
        }

    def call(self, method: str, path: str, json: dict | None = None) -> requests.Response:
        response = self.session.request(method, f"{self.url}{path}", json=json, headers=self.headers(), timeout=30)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code} {response.text[:300]}")
        return response


def link_happy_card(partner: Partner) -> str:
    """Enrol the happy card, read the OTP from the sandbox's SMS outbox and activate: an ACTIVE link code."""
    enrol = partner.call(
        "POST",
        f"{REWARDS}/linkage",
        {
            "lastFourDigitsCardNumber": HAPPY_CARD["last4"],
            "citiCardHolderPhoneNumber": HAPPY_CARD["phone"],
            "merchantCustomerReferenceId": "BENCH-1",
        },
    ).json()
    code = enrol["rewardLinkCode"]
    if enrol["linkStatus"] != "ACTIVE":
        outbox = partner.session.get(
            f"{partner.url}/sandbox/api/sms",
            params={"phone": HAPPY_CARD["phone"]},
            headers={"X-Sandbox-Key": SANDBOX_KEY},
            timeout=30,
        )
        outbox.raise_for_status()
        otp = re.search(r"\b(\d{6})\b", outbox.text).group(1)  # newest message first
        partner.call("PUT", f"{REWARDS}/{code}/activations", {"linkageConfirmationCode": otp})
    return code


# --- Measuring ----------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds
    wall: float = 0.0
    errors: int = 0
    rate: bool = True  # False: no req/s column (steps of sequential journeys share one wall time)

    def row(self) -> list[str]:
        ms = sorted(latency * 1000 for latency in self.latencies)
        if not ms:
            return [self.name, "0", str(self.errors), "-", "-", "-", "-"]
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        throughput = len(ms) / self.wall if self.wall else 0
        return [
            self.name,
            str(len(ms)),
            str(self.errors),
            f"{statistics.median(ms):.1f}",
            f"{p95:.1f}",
            f"{ms[-1]:.1f}",
            (f"{throughput:.0f}" if throughput >= 10 else f"{throughput:.2f}") if self.rate else "-",
        ]


def run_concurrently(
    clients: list[Any], per_client: int, step: Callable[[Any, int, dict[str, Result]], Any], names: list[str]
) -> dict[str, Result]:
    """Each client runs ``step`` per_client times in its own thread; results are timed per call name."""
    results = {name: Result(name) for name in names}
    lock = threading.Lock()

    def worker(client: Any, offset: int) -> None:
        local = {name: Result(name) for name in names}
        for index in range(per_client):
            try:
                step(client, offset + index, local)
            except (requests.RequestException, RuntimeError) as error:
                local[names[0]].errors += 1
                print(f"bench: {error}", file=sys.stderr)
        with lock:
            for name in names:
                results[name].latencies += local[name].latencies
                results[name].errors += local[name].errors

    threads = [threading.Thread(target=worker, args=(client, i * per_client)) for i, client in enumerate(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    for result in results.values():
        result.wall = wall
    return results


def timed(results: dict[str, Result], name: str, call: Callable[[], requests.Response]) -> requests.Response:
    started = time.perf_counter()
    response = call()
    results[name].latencies.append(time.perf_counter() - started)
    return response


# --- The shop -----------------------------------------------------------------------------------

HAPPY_CARD_NUMBER = "4966 0100 0000 8741"
PRODUCT_SLUG = "jasmine-rice-5kg"  # HK$89.90 with 60 in stock: enough for every journey
CART_PRODUCTS = ("jasmine-rice-5kg", "premium-light-soy-sauce")
CATEGORY_PAGES = ("/category/supermarket", "/category/electronics?sort=price_asc", "/category/toys?sort=price_desc")
SEARCHES = (
    "/search?q=rice&sort=relevance&page=1",
    "/search?q=soy+sauce&sort=price_asc&page=1",
    "/search?q=headphones&sort=price_desc&page=1",
    "/search?q=hiking&sort=price_asc&page=2",
    "/search?q=&sort=price_desc&page=2",  # every product, second page
)
SIGN_IN = {"email": "chan.taiman@example.com", "password": "demo1234"}  # a seeded demo shopper
SHOP_PASSWORD = "bench-password-1234"


class _FormParser(HTMLParser):
    """Every <form> of a page: its action and the values its inputs would send (submit buttons left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append((urlsplit(attributes.get("action", "")).path, {}))
            self._open = True
        elif tag == "input" and self._open and attributes.get("name"):
            if attributes.get("type", "text") not in ("submit", "button", "checkbox", "radio", "image", "reset"):
                self.forms[-1][1][attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


def form_fields(response: requests.Response, action: str) -> dict[str, str]:
    """The hidden and pre-filled inputs (the CSRF token among them) of the page's form posting to `action`."""
    parser = _FormParser()
    parser.feed(response.text)
    for form_action, fields in parser.forms:
        if form_action == action:
            return dict(fields)
    raise RuntimeError(f"no form posting to {action} on {urlsplit(response.url).path} ({describe(response)})")


def describe(response: requests.Response) -> str:
    """The status and the page's error messages, for a failure message."""
    alerts = re.findall(r'class="(?:alert alert--error|field-errors)"[^>]*>(.*?)</(?:p|ul|div)>', response.text, re.S)
    text = html.unescape(" ".join(" ".join(re.sub(r"<[^>]+>", " ", alert).split()) for alert in alerts))
    return f"HTTP {response.status_code}" + (f": {text[:300]}" if text else "")


class Shopper:
    """One benchmark shopper: a browser-like session (cookies, keep-alive) that fails loudly on anything odd."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def get(self, path: str, expect_path: str | None = None) -> requests.Response:
        return self._check(self.session.get(f"{self.url}{path}", timeout=30), f"GET {path}", expect_path)

    def post(
        self, path: str, data: dict[str, str], expect_path: str | None = None, follow: bool = True
    ) -> requests.Response:
        response = self.session.post(f"{self.url}{path}", data=data, timeout=30, allow_redirects=follow)
        return self._check(response, f"POST {path}", expect_path)

    def submit(
        self, page: requests.Response, action: str, values: dict[str, str], expect_path: str | None = None
    ) -> requests.Response:
        """Fill the page's form posting to `action` (keeping its CSRF token and pre-filled values) and send it."""
        return self.post(action, form_fields(page, action) | values, expect_path)

    @staticmethod
    def _check(response: requests.Response, what: str, expect_path: str | None) -> requests.Response:
        if response.status_code >= 400:
            raise RuntimeError(f"shop {what} -> {describe(response)}")
        landed = urlsplit(response.url).path
        if expect_path is not None and not re.fullmatch(expect_path, landed):
            raise RuntimeError(f"shop {what} landed on {landed}, expected {expect_path} ({describe(response)})")
        return response


def fill_cart(shopper: Shopper) -> None:
    """Add products through the product pages' real add-to-cart forms."""
    for slug in CART_PRODUCTS:
        page = shopper.get(f"/product/{slug}")
        cart = shopper.submit(page, "/cart/add", {"quantity": "2"}, expect_path="/cart")
    missing = [slug for slug in CART_PRODUCTS if f"/product/{slug}" not in cart.text]
    if missing:
        raise RuntimeError(f"the cart page does not list {', '.join(missing)} after adding them")


def sign_in_once(shopper: Shopper, local: dict[str, Result]) -> None:
    """GET the sign-in form (its CSRF token; signing in starts a fresh session) and time only the POST."""
    fields = form_fields(shopper.get("/account/sign-in"), "/account/sign-in") | SIGN_IN
    response = timed(local, "shop: sign-in POST", lambda: shopper.post("/account/sign-in", fields, follow=False))
    if response.status_code != 302 or urlsplit(response.headers.get("Location", "")).path != "/":
        raise RuntimeError(f"shop POST /account/sign-in did not sign in ({describe(response)})")


def bench_shop_pages(shop_url: str, clients: int, per_client: int) -> list[Result]:
    shoppers = [Shopper(shop_url) for _ in range(clients)]
    for shopper in shoppers:  # warm up: connections open, workers' first requests done, a cart to show
        shopper.get("/")
        fill_cart(shopper)

    def page(name: str, paths: tuple[str, ...]) -> Result:
        """GET the paths in turn; a redirect elsewhere (or any error status) counts as an error."""

        def get(shopper: Shopper, index: int, local: dict[str, Result]) -> None:
            path = paths[index % len(paths)]
            timed(local, name, lambda: shopper.get(path, expect_path=re.escape(urlsplit(path).path)))

        return run_concurrently(shoppers, per_client, get, [name])[name]

    product_paths = tuple(f"/product/{slug}" for slug in (PRODUCT_SLUG, *CART_PRODUCTS))
    results = [
        page("shop: home", ("/",)),
        page("shop: category", CATEGORY_PAGES),
        page("shop: search", SEARCHES),
        page("shop: product", product_paths),
        page("shop: cart (2 lines)", ("/cart",)),
    ]
    signers = [Shopper(shop_url) for _ in range(clients)]
    results += run_concurrently(
        signers,
        per_client,
        lambda c, i, r: sign_in_once(c, r),
        ["shop: sign-in POST"],
    ).values()
    return results


JOURNEY_STEPS = (
    "sign up",
    "add to cart",
    "delivery",
    "card payment",
    "send code",
    "read OTP (sandbox)",
    "verify code",
    "use points",
)


class Sandbox:
    """The issuer's sandbox controls the journeys need: the SMS outbox, the happy card's points, reset."""

    def __init__(self, issuer_url: str) -> None:
        self.url = f"{issuer_url}/sandbox/api"
        self.session = requests.Session()
        self.session.headers["X-Sandbox-Key"] = SANDBOX_KEY

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox {method} {path} -> {response.status_code} {response.text[:300]}")
        return response

    def latest_otp(self, phone: str) -> str:
        messages = self._call("GET", "/sms", params={"phone": phone}).json()  # newest first
        if not messages:
            raise RuntimeError(f"no SMS reached {phone}")
        otp = messages[0].get("otp") or re.search(r"\b(\d{6})\b", messages[0]["body"]).group(1)
        return otp

    def happy_card_points(self) -> int:
        return self._call("GET", f"/cards/{HAPPY_CARD['last4']}").json()["pointsBalance"]

    def reset(self) -> None:
        self._call("POST", "/reset")


def checkout_journey(shop_url: str, sandbox: Sandbox, name: str, times: dict[str, float]) -> int:
    """One Pay with Points checkout through the shop's real forms; each step's seconds go in `times`.

    A step is what a shopper waits for: its form page if not already on screen, the POST, and the redirect's
    page. Returns the points used.
    """
    shopper = Shopper(shop_url)
    order_path = r"/checkout/([^/]+)"

    def step(label: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        response = action()
        times[label] = time.perf_counter() - started
        return response

    email = f"{name}@bench.example.com"
    step(
        "sign up",
        lambda: shopper.submit(
            shopper.get("/account/sign-up"),
            "/account/sign-up",
            {"name": "Bench Shopper", "email": email, "phone": HAPPY_CARD["phone"]}
            | {"password": SHOP_PASSWORD, "confirm": SHOP_PASSWORD},
            expect_path="/",
        ),
    )
    step(
        "add to cart",
        lambda: shopper.submit(shopper.get(f"/product/{PRODUCT_SLUG}"), "/cart/add", {"quantity": "1"}, "/cart"),
    )
    payment_page = step(
        "delivery",
        lambda: shopper.submit(
            shopper.get("/checkout", expect_path="/checkout"),
            "/checkout",
            {"address": "Flat 12A, 8 Harbour Road", "district": "Wan Chai"},
            expect_path=f"{order_path}/payment",
        ),
    )
    base = re.fullmatch(f"({order_path})/payment", urlsplit(payment_page.url).path).group(1)
    reference = base.rsplit("/", 1)[1]
    card = {"card_number": HAPPY_CARD_NUMBER, "expiry": "12/30", "cvc": "123", "holder_name": "CHAN TAI MAN"}
    points_page = step("card payment", lambda: shopper.submit(payment_page, f"{base}/payment", card, f"{base}/points"))
    otp_page = step(
        "send code",
        lambda: shopper.submit(
            points_page, f"{base}/points/send-code", {"phone": HAPPY_CARD["phone"]}, f"{base}/points"
        ),
    )
    otp = step("read OTP (sandbox)", lambda: sandbox.latest_otp(HAPPY_CARD["phone"]))
    offer_page = step(
        "verify code", lambda: shopper.submit(otp_page, f"{base}/points/verify", {"otp": otp}, f"{base}/points")
    )
    # "Use points" with the amount the page suggests (the most this order can take).
    fields = form_fields(offer_page, f"{base}/points/redeem")
    points = int(fields.get("points") or 0)
    order_page = step(
        "use points",
        lambda: shopper.post(f"{base}/points/redeem", fields | {"submit": "Use points"}, f"/orders/{reference}"),
    )
    if f"{points:,} points used" not in order_page.text:
        raise RuntimeError(f"order {reference}: no '{points:,} points used' on the order page ({describe(order_page)})")
    return points


def bench_journeys(shop_url: str, issuer_url: str, journeys: int) -> tuple[list[Result], int, int]:
    """Sequential checkouts. Returns per-step results (the whole journey last), points used, sandbox resets."""
    sandbox = Sandbox(issuer_url)
    results = {label: Result(f"checkout: {label}", rate=False) for label in JOURNEY_STEPS}
    total = Result("checkout: whole journey")
    run_id = uuid.uuid4().hex[:8]
    points_used = resets = 0
    wall = 0.0
    for index in range(journeys):
        if sandbox.happy_card_points() < POINTS_PER_REDEMPTION:
            sandbox.reset()  # the happy card ran out: back to its seeded 120,000 points (not timed)
            resets += 1
        times: dict[str, float] = {}
        started = time.perf_counter()
        try:
            points_used += checkout_journey(shop_url, sandbox, f"bench-{run_id}-{index}", times)
        except (requests.RequestException, RuntimeError, AttributeError) as error:
            failed_step = next(label for label in [*JOURNEY_STEPS, ""] if label not in times)
            if failed_step:
                results[failed_step].errors += 1
            total.errors += 1
            print(f"bench: checkout journey {index + 1}, step {failed_step or 'check'!r}: {error}", file=sys.stderr)
            continue
        finally:
            wall += time.perf_counter() - started
        total.latencies.append(sum(times.values()))
        for label, seconds in times.items():
            results[label].latencies.append(seconds)
    total.wall = wall
    return [*results.values(), total], points_used, resets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="calls per measured issuer operation (default 200)")
    parser.add_argument("--shop-requests", type=int, default=100, help="requests per measured shop page (default 100)")
    parser.add_argument("--journeys", type=int, default=10, help="sequential Pay with Points checkouts (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    args = parser.parse_args()
    per_client = max(1, args.requests // args.clients)
    shop_per_client = max(1, args.shop_requests // args.clients)

    with tempfile.TemporaryDirectory(prefix="issuer-bench-") as tmp:
        server = start_server(Path(tmp))
        shop = None
        try:
            clients = [Partner(server.url) for _ in range(args.clients)]
            for client in clients:
                client.get_token()
            link_code = link_happy_card(clients[0])
            for client in clients:  # warm up: connections open, workers' first requests done
                client.call("GET", f"{REWARDS}/{link_code}/pointBalance")

            results: list[Result] = []
            results += run_concurrently(
                clients, per_client, lambda c, i, r: timed(r, "token", c.get_token), ["token"]
            ).values()
            results += run_concurrently(
                clients,
                per_client,
                lambda c, i, r: timed(r, "balance", lambda: c.call("GET", f"{REWARDS}/{link_code}/pointBalance")),
                ["balance"],
            ).values()

            run_id = uuid.uuid4().hex[:8]

            def redeem_and_reverse(client: Partner, index: int, local: dict[str, Result]) -> None:
                reference = f"BENCH-{run_id}-{index}"
                order = timed(
                    local,
                    "redemption",
                    lambda: client.call(
                        "POST",
                        f"{REWARDS}/{link_code}/redemption",
                        {
                            "transactionReferenceNumber": reference,
                            "redemptionOrder": {
                                "transactionAmount": "520.00",
                                "currencyCode": "HKD",
                                "pointsToRedeem": POINTS_PER_REDEMPTION,
                                "transactionDescription": f"Benchmark {reference}",
                            },
                        },
                    ),
                ).json()
                timed(
                    local,
                    "reversal",
                    lambda: client.call(
                        "POST",
                        f"{REWARDS}/redemption/reversals",
                        {
                            "orderId": order["orderId"],
                            "reversalReferenceNumber": f"{reference}-R",
                            "pointsToReverse": POINTS_PER_REDEMPTION,
                        },
                    ),
                )

            results += run_concurrently(clients, per_client, redeem_and_reverse, ["redemption", "reversal"]).values()
            final_balance = clients[0].call("GET", f"{REWARDS}/{link_code}/pointBalance").json()
            rss = {pid: peak_rss_kib(pid) for pid in server.pids()}

            # The shop, against this issuer (its peak RSS above is from the issuer phase alone).
            shop = start_shop(Path(tmp), server.url)
            shop_results = bench_shop_pages(shop.url, args.clients, shop_per_client)
            journey_results, points_used, resets = bench_journeys(shop.url, server.url, args.journeys)
            shop_rss = {pid: peak_rss_kib(pid) for pid in shop.pids()}
        finally:
            if shop is not None:
                shop.stop()
            server.stop()

    print_report(results, rss, args.clients, final_balance["availablePointBalance"])
    print()
    print_shop_report(shop_results, journey_results, shop_rss, args.clients, points_used, resets)
    # A journey's failure counts on its step and on the whole journey: count journeys once.
    failed = sum(result.errors for result in [*results, *shop_results, journey_results[-1]])
    if failed:
        print(
            f"\nbench: FAILED: {failed} request(s) or journey(s) errored unexpectedly (their errors are above).",
            file=sys.stderr,
        )
        return 1
    return 0


def print_table(results: list[Result]) -> None:
    header = ["operation", "calls", "errors", "p50 ms", "p95 ms", "max ms", "req/s"]
    rows = [header, *(result.row() for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def rss_line(rss: dict[int, int]) -> str:
    master, *workers = rss
    return (
        f"peak RSS (VmHWM): master {rss[master] / 1024:.1f} MiB; "
        + ", ".join(f"worker {pid} {rss[pid] / 1024:.1f} MiB" for pid in workers)
        + f"; total {sum(rss.values()) / 1024:.1f} MiB"
    )


def print_report(results: list[Result], rss: dict[int, int], clients: int, final_points: int) -> None:
    print(f"Summit Bank sandbox under gunicorn (Makefile GUNICORN line), SQLite, {clients} concurrent clients")
    print("req/s: calls of that operation per second of its phase's wall time (redemption and reversal share one).")
    print()
    print_table(results)
    print()
    print(rss_line(rss))
    print(f"happy card balance after redeem+reverse pairs: {final_points:,} points (seeded 120,000)")


def print_shop_report(
    pages: list[Result], journeys: list[Result], rss: dict[int, int], clients: int, points_used: int, resets: int
) -> None:
    print("Harbour Mall shop under gunicorn (Makefile GUNICORN line), SQLite, against the sandbox above")
    print(f"shop pages: {clients} concurrent shoppers; req/s per second of that page's phase wall time.")
    print("sign-in POST: the POST alone (scrypt check, 302), not the home page it redirects to.")
    print("checkout: sequential journeys, a fresh shopper each; a step = its form page if not yet shown + the POST")
    print("+ the page it redirects to; whole journey req/s = journeys per second.")
    print()
    print_table([*pages, *journeys])
    print()
    print(rss_line(rss))
    completed = len(journeys[-1].latencies)
    print(
        f"checkouts completed: {completed}, {points_used:,} points used on the happy card"
        + (f" (sandbox reset {resets} time(s) when it ran out)" if resets else "")
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (requests.RequestException, RuntimeError) as error:  # outside a measured phase: warm-up, set-up
        sys.exit(f"bench: FAILED before the measurements were complete: {error}")
