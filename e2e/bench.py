"""Benchmark both apps under load: `make bench` (or `python e2e/bench.py --quick` while iterating).

What it measures, all in one run, every throughput as a ratio to a floor measured in the same run:

- The floor: a bare Flask app (e2e/bench_floor.py) answering a small JSON body, always under
  `gunicorn --worker-class gthread --workers 2 --threads 8` (fixed: the apps' server settings cannot move it),
  the fastest of FLOOR_RUNS wrk runs (a slow one would flatter every ratio).
- The issuer and the shop under gunicorn.conf.py (started by e2e/harness.py, as `make demo` runs them),
  loaded by wrk (2 threads, 16 connections, --duration seconds per figure, e2e/bench_wrk.lua): token, points
  balance and redemption (each at 1, 4, 16 and 64 connections: how cost grows), partial reversal; the shop's
  home, a category, a search and a product page.
- 20 concurrent shoppers, each a whole first-time Pay with Points checkout over HTTP through the shop's real forms
  with a test cardholder of its own (created through the sandbox API), timed per step, after 4 untimed warm-up
  checkouts (2 at a time); afterwards the points the issuer debited must equal the points on the shop's orders.
- The request log (after a clean SIGTERM stop, every call wrk completed must be logged), the ledger check
  (`flask --app issuer_sandbox ledger-check`), one redemption's SQL statement count (e2e/bench_statements.py)
  and both apps' peak RSS.
- The same on PostgreSQL (BENCH_POSTGRES_URL, else TEST_POSTGRES_URL, else, as root, .ci/start-postgres), in
  columns beside the SQLite ones; skipped with the reason when none can be had.
- Before all that, the per-endpoint latency tables of 4 concurrent Python clients (requests), as before.
- The insights page with 100,000 Pay with Points events (seeded by e2e/bench_insights.py into a shop database of
  its own, after the other figures, so nothing else competes): median and p99 of 20 sequential GETs by the staff
  login, over HTTP under gunicorn.conf.py; goal 300 ms. `--only insights` measures just this figure.

Exits 1 when anything failed (a non-2xx answer, a socket error or timeout, a failed checkout, unequal points, an
unlogged call, an unclean ledger check), 2 when wrk is missing and cannot be installed; missed goals are shown in
the table and listed, never a failure. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import html
import json
import math
import os
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python e2e/bench.py` finds the e2e package

from e2e.harness import (  # noqa: E402
    BIN,
    ROOT,
    AppProcess,
    base_env,
    free_port,
    start_apps,
)
from e2e.sandbox_api import CLIENT_ID, CLIENT_SECRET, REWARDS, PartnerApi, SandboxApi  # noqa: E402

LUA_SCRIPT = ROOT / "e2e" / "bench_wrk.lua"
STATEMENTS_SCRIPT = ROOT / "e2e" / "bench_statements.py"
INSIGHTS_SCRIPT = ROOT / "e2e" / "bench_insights.py"
# Fixed, never gunicorn.conf.py: the floor must not move when the apps' server settings change. An empty --config,
# because gunicorn reads ./gunicorn.conf.py by itself otherwise.
FLOOR_GUNICORN = [
    *(str(BIN / "gunicorn"), "--config", os.devnull),
    *("--worker-class", "gthread", "--workers", "2", "--threads", "8"),
]
FLOOR_APP = "e2e.bench_floor:app"

CONNECTIONS = 16
GROWTH_CONNECTIONS = (1, 4, 16, 64)
WRK_THREADS = 2
WRK_TIMEOUT = "5s"
SHOPPERS = 20
REDEMPTION_POINTS, REDEMPTION_AMOUNT = 1000, "520.00"  # the Rewards minimum (25-point increments)
REVERSAL_POINTS = 25  # partial reversals of the big redemptions: 25 x 0.004 = HK$0.10, whole cents
BIG_REDEMPTION_POINTS = 1_000_000  # the Rewards programme's most per redemption (HK$4,000)
BENCH_CARD_POINTS = 100_000_000  # the most a test cardholder may open with; topped up as redemptions use it
TOP_UP_POINTS = 100_000_000  # the most one sandbox adjustment may add
JOURNEY_CARD_POINTS = 50_000
# Issue 8's aim, counting the request-log row issue 10 put inside the money transaction (a killed worker cannot
# lose it). On PostgreSQL the stored-reference look-up stays a statement of its own after the lock (see
# issuer_sandbox/redemptions.py), so there it is one more.
TODAY_STATEMENTS, STATEMENTS_GOAL = 30, 10
TODAY_RSS_MIB = {"issuer": 148, "shop": 227}
PG_DATABASES = {
    "issuer": "pwp_bench_issuer",
    "shop": "pwp_bench_shop",
    "statements": "pwp_bench_statements",
    "insights": "pwp_bench_insights",
}
INSIGHTS_EVENTS, INSIGHTS_REQUESTS, INSIGHTS_GOAL_MS = 100_000, 20, 300
INSIGHTS_LABEL = "insights page, 100k events"
STAFF_SIGN_IN = {"email": "ops@harbourmall.example", "password": "demo1234"}  # the seeded staff login


class BenchError(RuntimeError):
    """Something the bench needs did not work: reported, and the run fails."""


def note(message: str) -> None:
    print(message, flush=True)


# --- wrk ----------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The wrk binary; as root it is installed from the Debian packages where missing, otherwise exit 2."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        print("bench: wrk (the HTTP load generator) is missing: run 'sudo apt-get install -y wrk'", file=sys.stderr)
        sys.exit(2)
    note("bench: installing wrk (apt-get install -y wrk)")
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL, check=False)
    found = shutil.which("wrk")
    if not found:
        print("bench: wrk could not be installed (apt-get install -y wrk failed)", file=sys.stderr)
        sys.exit(2)
    return found


@dataclass
class WrkResult:
    """One wrk figure, from the JSON line bench_wrk.lua's done() prints."""

    name: str
    kind: str  # what the request log calls it: token, balance, redemption, reversal; "page" for the shop
    connections: int
    tag: str  # the first 8 hex digits of every uuid header this figure sent
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def error_text(self) -> str:
        parts = [
            f"{count} {'non-2xx answers' if name == 'status' else name + ' errors'}"
            for name, count in self.errors.items()
            if count
        ]
        return ", ".join(parts)


class Wrk:
    def __init__(self, binary: str, duration: int) -> None:
        self.binary = binary
        self.duration = duration

    def run(self, name: str, kind: str, url: str, mode: str, args: list[str], connections: int) -> WrkResult:
        tag = secrets.token_hex(4)
        command = [
            self.binary,
            f"-t{min(WRK_THREADS, connections)}",
            f"-c{connections}",
            f"-d{self.duration}s",
            "--latency",
            "--timeout",
            WRK_TIMEOUT,
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            mode,
            tag,
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=self.duration + 120)
        line = next((row for row in done.stdout.splitlines() if row.startswith("WRK_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise BenchError(f"wrk for {name} failed ({done.returncode}): {(done.stderr or done.stdout)[-1000:]}")
        data = json.loads(line.removeprefix("WRK_JSON "))
        result = WrkResult(
            name=name,
            kind=kind,
            connections=connections,
            tag=tag,
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            p50_ms=data["p50_us"] / 1000,
            p90_ms=data["p90_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            max_ms=data["max_us"] / 1000,
            errors=data["errors"],
        )
        note(
            f"  {name:<28} {result.rate:8.0f} req/s  p50 {result.p50_ms:6.1f}  p99 {result.p99_ms:7.1f} ms"
            + (f"  FAILED: {result.error_text()}" if result.error_text() else "")
        )
        return result


# --- The servers --------------------------------------------------------------------------------


def start(app: AppProcess, command: list[str], env: dict[str, str]) -> AppProcess:
    atexit.register(app.stop)  # if the bench dies before it stops them
    app.start(command, env)
    app.wait_healthy()
    return app


def stop_cleanly(app: AppProcess, timeout: float = 60) -> str | None:
    """SIGTERM to the gunicorn master alone (a graceful stop: it lets its workers finish and exit as they would in
    production); SIGKILL whatever is left afterwards. Returns what went wrong, or None."""
    process = app.process
    problem = None
    if process is None:
        return f"{app.name} was not running"
    if process.poll() is not None:
        problem = f"{app.name} had exited with {process.returncode} before it was stopped"
    else:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=timeout)
            if returncode != 0:
                problem = f"{app.name} exited with {returncode} on SIGTERM"
        except subprocess.TimeoutExpired:
            problem = f"{app.name} did not stop within {timeout:.0f} s of SIGTERM"
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers that outlived their master, if any
    except ProcessLookupError:
        pass
    app.stop()  # reaps and closes the log
    return problem


def process_tree(pid: int) -> list[int]:
    """The gunicorn master and its workers."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces; the parent pid is the 2nd field after its ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return [pid, *sorted(children)]


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in KiB; 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def rss_of(app: AppProcess) -> dict[int, int]:
    return {pid: peak_rss_kib(pid) for pid in process_tree(app.process.pid)} if app.process else {}


def rss_line(rss: dict[int, int]) -> str:
    if not rss:
        return "peak RSS: not measured"
    master, *workers = rss
    return (
        f"peak RSS (VmHWM): master {rss[master] / 1024:.1f} MiB; "
        + ", ".join(f"worker {pid} {rss[pid] / 1024:.1f} MiB" for pid in workers)
        + f"; total {sum(rss.values()) / 1024:.1f} MiB"
    )


# --- Databases ----------------------------------------------------------------------------------


@dataclass
class Backend:
    """Where both apps keep their data for one column of the table."""

    name: str  # SQLite | PostgreSQL
    issuer_url: str  # SQLAlchemy URLs, as ISSUER_DATABASE_URL / SHOP_DATABASE_URL take them
    shop_url: str
    statements_url: str | None  # an empty database for bench_statements.py; None: its own temporary SQLite
    insights_url: str | None = None  # the insights figure's shop database; None: SQLite in its work folder

    def connect(self, url: str) -> Any:
        """A DB-API connection (the bench reads the apps' tables directly; it never imports their code)."""
        if url.startswith("sqlite:///"):
            return sqlite3.connect(url.removeprefix("sqlite:///"))
        import psycopg

        return psycopg.connect(libpq_url(url))


def libpq_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def postgres_admin_url() -> tuple[str | None, str]:
    """A PostgreSQL URL whose role may create databases, and where it came from (or why there is none)."""
    for variable in ("BENCH_POSTGRES_URL", "TEST_POSTGRES_URL"):
        if os.environ.get(variable):
            return os.environ[variable], variable
    if os.geteuid() != 0:
        return None, "neither BENCH_POSTGRES_URL nor TEST_POSTGRES_URL is set, and only root may start the local one"
    started = subprocess.run([str(ROOT / ".ci" / "start-postgres")], capture_output=True, text=True, timeout=600)
    lines = started.stdout.strip().splitlines()
    if started.returncode != 0 or not lines:
        return None, f".ci/start-postgres failed ({started.returncode}): {started.stderr.strip()[-500:]}"
    return lines[-1].strip(), ".ci/start-postgres"


def fresh_postgres(admin_url: str) -> Backend:
    """Drop and create the bench's own databases (the admin URL's role owns them) and name them."""
    import psycopg

    with psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=10) as connection:
        for name in PG_DATABASES.values():
            # Not WITH (FORCE): a non-superuser may not end an autovacuum worker; retry while one finishes.
            for attempt in range(40):
                try:
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    break
                except psycopg.OperationalError:
                    if attempt == 39:
                        raise
                    time.sleep(0.25)
            connection.execute(f'CREATE DATABASE "{name}"')
    return Backend(
        "PostgreSQL",
        with_database(admin_url, PG_DATABASES["issuer"]),
        with_database(admin_url, PG_DATABASES["shop"]),
        with_database(admin_url, PG_DATABASES["statements"]),
        with_database(admin_url, PG_DATABASES["insights"]),
    )


def ledger_check(issuer_database_url: str) -> tuple[bool, str]:
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "issuer_sandbox", "ledger-check"],
        cwd=ROOT,
        env=base_env() | {"ISSUER_DATABASE_URL": issuer_database_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode == 0, " ".join((done.stdout + done.stderr).split())[-600:]


def statement_count(database_url: str | None) -> tuple[int, int]:
    """(statements, of which transaction control) of one redemption POST, from bench_statements.py."""
    command = [sys.executable, str(STATEMENTS_SCRIPT)] + (["--database-url", database_url] if database_url else [])
    done = subprocess.run(command, cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=300)
    line = next((row for row in done.stdout.splitlines() if row.startswith("STATEMENTS ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"bench_statements.py failed ({done.returncode}): {(done.stderr or done.stdout)[-1500:]}")
    data = json.loads(line.removeprefix("STATEMENTS "))
    return data["statements"], data["control"]


REQUEST_LOG_QUERY = """
SELECT substr(request_uuid, 1, 8) AS tag,
       CASE WHEN path LIKE '%/pointBalance' THEN 'balance'
            WHEN path LIKE '%/redemption/reversals' THEN 'reversal'
            WHEN method = 'POST' AND path LIKE '%/redemption' THEN 'redemption'
            WHEN path LIKE '%/oauth2/token/%' THEN 'token'
            ELSE 'other' END AS kind,
       COUNT(*) AS logged,
       SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS ok
FROM request_log
GROUP BY 1, 2
"""


# --- Partner API and sandbox helpers ------------------------------------------------------------


def call(partner: PartnerApi, method: str, path: str, body: dict | None = None) -> requests.Response:
    response = partner.request(method, path, json=body)
    if response.status_code >= 300:
        raise BenchError(f"{method} {path} -> {response.status_code} {response.text[:300]}")
    return response


def redemption_body(reference: str, points: int, amount: str) -> dict:
    return {
        "transactionReferenceNumber": reference,
        "redemptionOrder": {
            "transactionAmount": amount,
            "currencyCode": "HKD",
            "pointsToRedeem": points,
            "transactionDescription": f"Benchmark {reference}",
        },
    }


def unique_mobile(first_digit: int, index: int) -> str:
    """An 8-digit Hong Kong mobile (4 to 9 first) no seeded cardholder has (they all start with 9)."""
    return f"{first_digit}{secrets.randbelow(1000):03d}{index:04d}"


# --- The requests-based latency tables (4 concurrent Python clients) ------------------------------


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds
    wall: float = 0.0
    errors: int = 0
    rate: bool = True  # False: no req/s column

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile, in ms."""
        ms = sorted(latency * 1000 for latency in self.latencies)
        return ms[max(0, math.ceil(fraction * len(ms)) - 1)] if ms else 0.0

    def row(self) -> list[str]:
        ms = sorted(latency * 1000 for latency in self.latencies)
        if not ms:
            return [self.name, "0", str(self.errors), "-", "-", "-", "-"]
        throughput = len(ms) / self.wall if self.wall else 0
        return [
            self.name,
            str(len(ms)),
            str(self.errors),
            f"{statistics.median(ms):.1f}",
            f"{self.percentile(0.95):.1f}",
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
            except (requests.RequestException, RuntimeError, AssertionError) as error:
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


def timed(results: dict[str, Result], name: str, action: Callable[[], requests.Response]) -> requests.Response:
    started = time.perf_counter()
    response = action()
    results[name].latencies.append(time.perf_counter() - started)
    return response


def issuer_table(issuer_url: str, sandbox: SandboxApi, clients: int, per_client: int) -> list[Result]:
    """Token, balance and redemption + reversal pairs on the happy card from `clients` Python clients."""
    partners = [PartnerApi(issuer_url) for _ in range(clients)]
    link = partners[0].link_card(sandbox, "8741", "91234567", "BENCH-TABLE")
    for partner in partners:  # warm up: a token each, connections open
        call(partner, "GET", f"{REWARDS}/{link}/pointBalance")

    def token(partner: PartnerApi, _index: int, local: dict[str, Result]) -> None:
        response = timed(local, "token", partner.fetch_token)
        if response.status_code != 200:
            raise BenchError(f"token -> {response.status_code} {response.text[:300]}")

    run_id = secrets.token_hex(4)

    def redeem_and_reverse(partner: PartnerApi, index: int, local: dict[str, Result]) -> None:
        reference = f"BENCH-{run_id}-{index}"
        body = redemption_body(reference, REDEMPTION_POINTS, REDEMPTION_AMOUNT)
        order = timed(local, "redemption", lambda: call(partner, "POST", f"{REWARDS}/{link}/redemption", body)).json()
        reversal = {"orderId": order["orderId"], "reversalReferenceNumber": f"{reference}-R"}
        reversal["pointsToReverse"] = REDEMPTION_POINTS
        timed(local, "reversal", lambda: call(partner, "POST", f"{REWARDS}/redemption/reversals", reversal))

    results = list(run_concurrently(partners, per_client, token, ["token"]).values())
    results += run_concurrently(
        partners,
        per_client,
        lambda p, i, r: timed(r, "balance", lambda: call(p, "GET", f"{REWARDS}/{link}/pointBalance")),
        ["balance"],
    ).values()
    results += run_concurrently(partners, per_client, redeem_and_reverse, ["redemption", "reversal"]).values()
    return results


# --- The shop over HTTP -------------------------------------------------------------------------

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
# The pages wrk loads, one each.
SHOP_FIGURES = (
    ("home", "/"),
    ("category", "/category/supermarket"),
    ("search", "/search?q=rice&sort=relevance&page=1"),
    ("product", f"/product/{PRODUCT_SLUG}"),
)
SIGN_IN = {"email": "chan.taiman@example.com", "password": "demo1234"}  # a seeded demo shopper
SHOP_PASSWORD = "bench-password-1234"


class _FormParser(HTMLParser):
    """The values one <form>'s inputs would send (submit buttons, unticked boxes and choices left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "input" and attributes.get("name"):
            if attributes.get("type", "text") not in ("submit", "button", "checkbox", "radio", "image", "reset"):
                self.fields[attributes["name"]] = attributes.get("value", "")


# A page's forms, found without parsing the rest of the page: the bench's client shares the two CPUs with both
# apps, and parsing a whole page per step cost it ~11 ms of each checkout. The shop's forms do not nest.
_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form\s*>", re.S | re.I)
_ACTION = re.compile(r"""\baction\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def form_fields(response: requests.Response, action: str) -> dict[str, str]:
    """The hidden and pre-filled inputs (the CSRF token among them) of the page's form posting to `action`."""
    for form in _FORM.finditer(response.text):
        found = _ACTION.search(form.group(1))
        form_action = html.unescape(next(value for value in found.groups() if value is not None)) if found else ""
        if urlsplit(form_action).path == action:
            parser = _FormParser()
            parser.feed(form.group(2))
            parser.close()
            return parser.fields
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
        # No proxy or .netrc look-ups in the environment on every request: the bench only talks to 127.0.0.1.
        self.session.trust_env = False

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


def shop_table(shop_url: str, clients: int, per_client: int) -> list[Result]:
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
        signers, per_client, lambda c, i, r: sign_in_once(c, r), ["shop: sign-in POST"]
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
# Steps with the p99 goal: the shopper's own steps after sign-up (not reading the SMS, which is the tester's).
JOURNEY_GOAL_STEPS = ("add to cart", "delivery", "card payment", "send code", "verify code", "use points")


@dataclass
class JourneyCard:
    last4: str
    number: str
    holder: str
    mobile: str
    opening_points: int


def checkout_journey(shop_url: str, sandbox: SandboxApi, name: str, card: JourneyCard, times: dict) -> int:
    """One first-time Pay with Points checkout through the shop's real forms; each step's seconds go in `times`.

    A step is what a shopper waits for: its form page if not already on screen, the POST, and the redirect's
    page. Returns the points the order page says were used.
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
            {"name": "Bench Shopper", "email": email, "phone": card.mobile}
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
    fields = {"card_number": card.number, "expiry": "12/30", "cvc": "123", "holder_name": card.holder}
    points_page = step(
        "card payment", lambda: shopper.submit(payment_page, f"{base}/payment", fields, f"{base}/points")
    )
    otp_page = step(
        "send code",
        lambda: shopper.submit(points_page, f"{base}/points/send-code", {"phone": card.mobile}, f"{base}/points"),
    )
    otp = step("read OTP (sandbox)", lambda: sandbox.latest_otp(card.mobile))
    offer_page = step(
        "verify code", lambda: shopper.submit(otp_page, f"{base}/points/verify", {"otp": otp}, f"{base}/points")
    )
    # "Use points" with the amount the page suggests (the most this order can take).
    redeem = form_fields(offer_page, f"{base}/points/redeem")
    points = int(redeem.get("points") or 0)
    order_page = step(
        "use points",
        lambda: shopper.post(f"{base}/points/redeem", redeem | {"submit": "Use points"}, f"/orders/{reference}"),
    )
    if f"{points:,} points used" not in order_page.text:
        raise RuntimeError(f"order {reference}: no '{points:,} points used' on the order page ({describe(order_page)})")
    return points


@dataclass
class Journeys:
    steps: dict[str, Result]
    whole: Result
    cards: list[JourneyCard]
    points_on_pages: int
    failures: list[str]
    debited: int | None = None  # on the issuer, over the journeys' cards: read while it still runs


# Untimed whole checkouts before the timed ones, WARM_UP_AT_ONCE at a time: every shop and issuer worker has then
# run the journey's statements and pages once (SQLAlchemy compiles each statement on a worker's first use of it),
# as the wrk figures and the latency tables warm up before they measure. Without them the slowest step of 20 is a
# worker's first request of its kind rather than the concurrency the figure is about.
WARM_UP_JOURNEYS = 4
WARM_UP_AT_ONCE = 2


def concurrent_journeys(shop_url: str, issuer_url: str, shoppers: int) -> Journeys:
    """`shoppers` threads, each one whole first-time checkout with a test cardholder of its own, started at once.

    Untimed warm-up checkouts go first (WARM_UP_JOURNEYS); one that fails stops the figure as a failure.
    """
    for first in range(0, WARM_UP_JOURNEYS, WARM_UP_AT_ONCE):
        warm_up = journey_round(shop_url, issuer_url, WARM_UP_AT_ONCE, first_index=1000 + first)
        if warm_up.failures:
            raise RuntimeError(f"warm-up checkout failed: {warm_up.failures[0]}")
    return journey_round(shop_url, issuer_url, shoppers)


def journey_round(shop_url: str, issuer_url: str, shoppers: int, first_index: int = 0) -> Journeys:
    """`shoppers` whole first-time checkouts started together, each card's mobile numbered from `first_index`."""
    sandbox = SandboxApi(issuer_url)
    run_id = secrets.token_hex(4)
    first_digit = 6  # the bench card's mobile starts with 5, the seeded cardholders' with 9
    cards = []
    for index in range(shoppers):
        created = sandbox.create_cardholder(
            f"Bench Shopper {chr(65 + index % 26)}",
            unique_mobile(first_digit, first_index + index),
            JOURNEY_CARD_POINTS,
        )
        cards.append(
            JourneyCard(
                created["last4"], created["number"], created["holder"], created["mobile"], int(created["pointsBalance"])
            )
        )
    steps = {label: Result(f"checkout: {label}", rate=False) for label in JOURNEY_STEPS}
    whole = Result("checkout: whole journey")
    failures: list[str] = []
    points = []
    lock = threading.Lock()
    barrier = threading.Barrier(shoppers)

    def shopper(index: int) -> None:
        own_sandbox = SandboxApi(issuer_url)  # a session of its own per thread
        times: dict[str, float] = {}
        barrier.wait()
        started = time.perf_counter()
        try:
            used = checkout_journey(shop_url, own_sandbox, f"bench-{run_id}-{first_index + index}", cards[index], times)
        except (requests.RequestException, RuntimeError, AssertionError, AttributeError) as error:
            failed_step = next((label for label in JOURNEY_STEPS if label not in times), "check")
            with lock:
                if failed_step in steps:
                    steps[failed_step].errors += 1
                whole.errors += 1
                failures.append(f"checkout {index + 1} (card {cards[index].last4}), step {failed_step!r}: {error}")
            return
        elapsed = time.perf_counter() - started
        with lock:
            points.append(used)
            whole.latencies.append(elapsed)
            for label, seconds in times.items():
                steps[label].latencies.append(seconds)

    threads = [threading.Thread(target=shopper, args=(index,)) for index in range(shoppers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    whole.wall = time.perf_counter() - started
    return Journeys(steps, whole, cards, sum(points), failures)


# --- One column: both apps on one kind of database ----------------------------------------------


@dataclass
class Column:
    """Everything measured on one backend."""

    backend: str
    figures: dict[str, WrkResult] = field(default_factory=dict)
    journeys: Journeys | None = None
    rss: dict[str, dict[int, int]] = field(default_factory=dict)
    statements: tuple[int, int] | None = None
    checks: list[str] = field(default_factory=list)  # printed
    failures: list[str] = field(default_factory=list)
    issuer_table: list[Result] = field(default_factory=list)
    shop_table: list[Result] = field(default_factory=list)
    insights: Result | None = None

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"bench: FAILED ({self.backend}): {message}", file=sys.stderr, flush=True)


def start_demo_apps(backend: Backend, workdir: Path):
    """The e2e harness's pair, with this backend's databases and no e2e flags: the apps as `make demo` runs them."""
    return start_apps(
        workdir,
        issuer_settings={"ISSUER_ENV": "demo", "ISSUER_DATABASE_URL": backend.issuer_url},
        shop_settings={"SHOP_ENV": "demo", "SHOP_DATABASE_URL": backend.shop_url},
        server_flags=(),
    )


def measure(backend: Backend, workdir: Path, wrk: Wrk, args: argparse.Namespace, tables: bool) -> Column:
    column = Column(backend.name)
    note(f"\n== {backend.name}: seeding and starting both apps (logs in {workdir})")
    apps = None
    try:
        apps = start_demo_apps(backend, workdir)
        measure_issuer(column, apps.issuer, wrk, args, tables)
        measure_shop(column, apps.shop, apps.issuer, wrk, args, tables)
        column.rss = {"issuer": rss_of(apps.issuer), "shop": rss_of(apps.shop)}
    except (BenchError, requests.RequestException, RuntimeError, AssertionError) as error:
        column.fail(f"stopped early: {error}")
    finally:
        for app in (apps.shop, apps.issuer) if apps else ():  # the shop first: it is the issuer's only client
            if app.process is not None:
                problem = stop_cleanly(app)
                if problem:
                    column.fail(problem)
    check_request_log(column, backend)
    clean, output = ledger_check(backend.issuer_url)
    column.checks.append(f"ledger-check ({backend.name}): {'clean' if clean else 'FAILED'}: {output}")
    if not clean:
        column.fail(f"flask --app issuer_sandbox ledger-check: {output}")
    check_points(column, backend)
    measure_insights(column, backend, workdir / "insights")
    try:
        column.statements = count, control = statement_count(backend.statements_url)
        column.checks.append(
            f"SQL statements of one redemption POST ({backend.name}, e2e/bench_statements.py): {count}, {control} of "
            f"them transaction control (BEGIN, SAVEPOINT, RELEASE); goal <= {STATEMENTS_GOAL}, today {TODAY_STATEMENTS}"
        )
    except BenchError as error:
        column.fail(str(error))
    return column


def measure_issuer(column: Column, issuer: AppProcess, wrk: Wrk, args: argparse.Namespace, tables: bool) -> None:
    sandbox = SandboxApi(issuer.url)
    partner = PartnerApi(issuer.url)
    token = partner.token()
    if tables:
        note(f"-- issuer: {args.clients} Python clients, {args.requests} calls per operation")
        column.issuer_table = issuer_table(issuer.url, sandbox, args.clients, max(1, args.requests // args.clients))

    # A bench cardholder with far more points than the happy card, linked like any shopper's card.
    created = sandbox.create_cardholder(
        "Bench Load", unique_mobile(5, secrets.randbelow(10_000)), BENCH_CARD_POINTS, "10000000.00"
    )
    last4 = created["last4"]
    link = partner.link_card(sandbox, last4, created["mobile"], f"BENCH-LOAD-{secrets.token_hex(4)}")
    balance = call(partner, "GET", f"{REWARDS}/{link}/pointBalance").json()
    rate = Decimal(balance["programConversionRate"])
    big = min(BIG_REDEMPTION_POINTS, balance["maximumPointsToRedeem"])
    big -= big % balance["redemptionPointIncrement"]
    big_amount = rate * big
    if (big_amount * 100 * REVERSAL_POINTS) % big:
        raise BenchError(f"{REVERSAL_POINTS} of {big} points at {rate} is not a whole number of cents")
    # Enough big redemptions that the reversal figure never runs out of reversible points.
    capacity = big // REVERSAL_POINTS
    orders = []
    for index in range(max(4, math.ceil(wrk.duration * 8000 / capacity) + 1)):
        body = redemption_body(f"BENCH-BIG-{secrets.token_hex(4)}-{index}", big, f"{big_amount:.2f}")
        orders.append(call(partner, "POST", f"{REWARDS}/{link}/redemption", body).json()["orderId"])
    for _ in range(10):  # warm up every worker thread on this link
        call(partner, "GET", f"{REWARDS}/{link}/pointBalance")

    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    partner_args = [token, CLIENT_ID]
    note(f"-- issuer: wrk, {wrk.duration} s per figure")
    figures = column.figures

    def figure(name: str, kind: str, mode: str, mode_args: list[str], connections: int) -> None:
        label = f"issuer: {name} @{connections}"
        figures[label] = result = wrk.run(label, kind, issuer.url, mode, mode_args, connections)
        if result.error_text():
            column.fail(f"{label}: {result.error_text()}")

    figure("token", "token", "token", [basic], CONNECTIONS)
    for connections in GROWTH_CONNECTIONS:
        figure("balance", "balance", "balance", [*partner_args, link], connections)
    for connections in GROWTH_CONNECTIONS:
        top_up(partner, sandbox, link, last4, wrk.duration)
        figure(
            "redemption",
            "redemption",
            "redeem",
            [*partner_args, link, str(REDEMPTION_POINTS), REDEMPTION_AMOUNT],
            connections,
        )
    figure("reversal", "reversal", "reverse", [*partner_args, str(REVERSAL_POINTS), ",".join(orders)], CONNECTIONS)


def top_up(partner: PartnerApi, sandbox: SandboxApi, link: str, last4: str, duration: int) -> None:
    """Enough points on the bench card for a redemption figure at several thousand redemptions a second."""
    wanted = max(50_000_000, duration * 8000 * REDEMPTION_POINTS)
    for _ in range(10):
        points = call(partner, "GET", f"{REWARDS}/{link}/pointBalance").json()["availablePointBalance"]
        if points >= wanted:
            return
        sandbox.adjust_points(last4, TOP_UP_POINTS, "bench top-up")


def measure_shop(
    column: Column, shop: AppProcess, issuer: AppProcess, wrk: Wrk, args: argparse.Namespace, tables: bool
) -> None:
    if tables:
        note(f"-- shop: {args.clients} Python clients, {args.shop_requests} requests per page")
        column.shop_table = shop_table(shop.url, args.clients, max(1, args.shop_requests // args.clients))
    for _name, path in SHOP_FIGURES:  # each must answer 200 itself: wrk does not count a redirect as an error
        response = requests.get(f"{shop.url}{path}", allow_redirects=False, timeout=30)
        if response.status_code != 200:
            raise BenchError(f"shop GET {path} -> {response.status_code}, not 200: wrk would not count it as an error")
    note(f"-- shop: wrk, {wrk.duration} s per figure")
    for name, path in SHOP_FIGURES:
        label = f"shop: {name} @{CONNECTIONS}"
        column.figures[label] = result = wrk.run(label, "page", shop.url, "get", [path], CONNECTIONS)
        if result.error_text():
            column.fail(f"{label}: {result.error_text()}")
    note(f"-- shop: {args.shoppers} concurrent first-time Pay with Points checkouts")
    journeys = concurrent_journeys(shop.url, issuer.url, args.shoppers)
    column.journeys = journeys
    for failure in journeys.failures:
        column.fail(failure)
    whole = journeys.whole
    note(f"  {len(whole.latencies)} of {args.shoppers} checkouts completed in {whole.wall:.1f} s")
    # The issuer's side of the points check, while it runs.
    sandbox = SandboxApi(issuer.url)
    debited = sum(card.opening_points - sandbox.points(card.last4) for card in journeys.cards)
    journeys.debited = debited


def check_points(column: Column, backend: Backend) -> None:
    """Points debited on the issuer = points the order pages said = points on the shop's orders (its database)."""
    journeys = column.journeys
    if journeys is None or journeys.debited is None:
        return
    last4s = [card.last4 for card in journeys.cards]
    marks = ", ".join("?" if backend.shop_url.startswith("sqlite") else "%s" for _ in last4s)
    with backend.connect(backend.shop_url) as connection:
        row = connection.execute(
            f"SELECT COALESCE(SUM(points_used - points_reversed), 0), COUNT(*) FROM orders "
            f"WHERE card_last4 IN ({marks}) AND points_used > 0",
            last4s,
        ).fetchone()
    in_database, orders = int(row[0]), int(row[1])
    equal = journeys.debited == journeys.points_on_pages == in_database
    column.checks.append(
        f"points check ({column.backend}): issuer debited {journeys.debited:,} "
        f"{'=' if equal else '!='} order pages {journeys.points_on_pages:,}, shop database {in_database:,} "
        f"({orders} orders): {'ok' if equal else 'FAILED'}"
    )
    if not equal:
        column.fail(
            f"points debited on the issuer ({journeys.debited:,}) != points on the shop's orders "
            f"(pages {journeys.points_on_pages:,}, database {in_database:,})"
        )


def check_request_log(column: Column, backend: Backend) -> None:
    """Every call wrk completed on the issuer is in its request log (read after the clean stop), as a 2xx."""
    issuer_figures = [result for result in column.figures.values() if result.kind != "page"]
    if not issuer_figures:
        return
    try:
        with backend.connect(backend.issuer_url) as connection:
            rows = connection.execute(REQUEST_LOG_QUERY).fetchall()
    except Exception as error:  # noqa: BLE001 - any driver's error: report it as the failed check
        column.fail(f"could not read the request log: {error}")
        return
    logged = {(tag, kind): (int(count), int(ok)) for tag, kind, count, ok in rows}
    by_kind: dict[str, list[int]] = {}
    for result in issuer_figures:
        count, ok = logged.get((result.tag, result.kind), (0, 0))
        totals = by_kind.setdefault(result.kind, [0, 0, 0])
        totals[0] += result.requests
        totals[1] += count
        totals[2] += count - ok
        if count < result.requests:
            column.fail(f"request log: {result.name}: {count} logged < {result.requests} completed by wrk")
        if ok != count:
            column.fail(f"request log: {result.name}: {count - ok} of its calls were logged with a non-2xx status")
    parts = [
        f"{kind} {logged_count:,} logged {'>=' if logged_count >= completed else '<'} {completed:,} completed"
        + (f" ({bad} non-2xx)" if bad else "")
        for kind, (completed, logged_count, bad) in by_kind.items()
    ]
    ok = all(logged_count >= completed and not bad for completed, logged_count, bad in by_kind.values())
    column.checks.append(
        f"request log ({backend.name}, after SIGTERM, wrk's calls by uuid): {'; '.join(parts)}: "
        + ("ok" if ok else "FAILED")
    )


# --- The floor ----------------------------------------------------------------------------------


# The floor's best of this many wrk runs. Under gunicorn's default settings (which the floor keeps) a client's
# keep-alive connections can all land on one worker, and then the floor runs at about half its speed: one run in
# a run of `make bench` measured 2,118 req/s where the next four gave 3,700-4,700. A low floor would flatter every
# ratio, so the bench takes the fastest of FLOOR_RUNS (each with new connections) and prints them all.
FLOOR_RUNS = 3


def measure_floor(workdir: Path, wrk: Wrk) -> WrkResult:
    note(f"== floor: bare Flask JSON under gunicorn gthread, 2 workers x 8 threads, best of {FLOOR_RUNS} runs")
    port = free_port()
    floor = AppProcess("floor", f"http://127.0.0.1:{port}", workdir / "floor.log")
    start(floor, [*FLOOR_GUNICORN, "--no-control-socket", "--bind", f"127.0.0.1:{port}", FLOOR_APP], base_env())
    try:
        for _ in range(20):
            requests.get(f"{floor.url}/", timeout=10).raise_for_status()
        runs = [
            wrk.run(f"floor @{CONNECTIONS}, run {index + 1}", "floor", floor.url, "get", ["/"], CONNECTIONS)
            for index in range(FLOOR_RUNS)
        ]
    finally:
        stop_cleanly(floor)
    note("  floor runs: " + ", ".join(f"{run.rate:,.0f} req/s" for run in runs) + "; the fastest is the floor")
    failed = next((run for run in runs if run.error_text()), None)
    return failed or max(runs, key=lambda run: run.rate)


# --- The insights page -------------------------------------------------------------------------


def seed_insights(database_url: str) -> str:
    """Add INSIGHTS_EVENTS events to a seeded shop database (e2e/bench_insights.py); what it added."""
    command = [sys.executable, str(INSIGHTS_SCRIPT), "--database-url", database_url, "--events", str(INSIGHTS_EVENTS)]
    done = subprocess.run(command, cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=1800)
    line = next((row for row in done.stdout.splitlines() if row.startswith("SEEDED ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"e2e/bench_insights.py failed ({done.returncode}): {(done.stdout + done.stderr)[-800:]}")
    return line.removeprefix("SEEDED ")


def insights_latencies(shop_url: str, count: int) -> Result:
    """``count`` sequential GETs of /insights (its default range) by the staff login, after one warm-up GET."""
    staff = Shopper(shop_url)
    fields = form_fields(staff.get("/account/sign-in"), "/account/sign-in") | STAFF_SIGN_IN
    staff.post("/account/sign-in", fields, expect_path="/")
    result = Result(INSIGHTS_LABEL, rate=False)
    for index in range(count + 1):
        started = time.perf_counter()
        page = staff.get("/insights", expect_path="/insights")
        elapsed = time.perf_counter() - started
        if "Headline figures" not in page.text or "insights-empty" in page.text:
            raise BenchError("GET /insights did not show the seeded figures")
        if index:  # the first answer warms the worker (templates, imports): not counted
            result.latencies.append(elapsed)
    return result


def measure_insights(column: Column, backend: Backend, workdir: Path) -> None:
    """The insights figure on its own shop database: seeded, then timed while nothing else runs."""
    note(f"== {backend.name}: insights page with {INSIGHTS_EVENTS:,} events (logs in {workdir})")
    shop_settings = {"SHOP_ENV": "demo"}
    if backend.insights_url:
        shop_settings["SHOP_DATABASE_URL"] = backend.insights_url
    apps = None
    try:
        apps = start_apps(workdir, issuer_settings={"ISSUER_ENV": "demo"}, shop_settings=shop_settings, server_flags=())
        seeded = seed_insights(apps.shop.env["SHOP_DATABASE_URL"])
        column.insights = insights_latencies(apps.shop.url, INSIGHTS_REQUESTS)
        column.checks.append(
            f"insights page ({backend.name}): {seeded}; {INSIGHTS_REQUESTS} sequential GETs after one warm-up"
        )
    except (BenchError, requests.RequestException, RuntimeError, subprocess.TimeoutExpired) as error:
        column.fail(f"insights page: {error}")
    finally:
        if apps is not None:
            apps.stop()


def insights_row(misses: dict[str, list[str]], columns: list[Column]) -> list[str]:
    """The summary table's insights row: its p99 (the median is in the insights table) against 300 ms."""
    row = [INSIGHTS_LABEL]
    for index, column in enumerate(columns):
        result = column.insights
        p99 = result.percentile(0.99) if result is not None and result.latencies else None
        ok = verdict(misses, column, INSIGHTS_LABEL, None, p99)
        row += column_cells(index, ["-", f"{p99:.1f}" if p99 is not None else "-", "-"], goal_text(INSIGHTS_LABEL), ok)
    return row


def print_insights(columns: list[Column]) -> None:
    """One row per backend: the insights page's median, p99 and slowest answer beside its goal."""
    rows = []
    for column in columns:
        result = column.insights
        if result is None or not result.latencies:
            rows.append([column.backend, "0", "-", "-", "-", f"p99 <= {INSIGHTS_GOAL_MS} ms", "NO"])
            continue
        p50, p99, worst = (result.percentile(fraction) for fraction in (0.5, 0.99, 1.0))
        ok = "yes" if p99 <= INSIGHTS_GOAL_MS else "NO"
        cells = [f"{p50:.1f}", f"{p99:.1f}", f"{worst:.1f}"]
        rows.append([column.backend, str(len(result.latencies)), *cells, f"p99 <= {INSIGHTS_GOAL_MS} ms", ok])
    print(f"\n{INSIGHTS_LABEL}: GET /insights (the last 60 days) as the staff login, one request at a time")
    print_table(["database", "GETs", "p50 ms", "p99 ms", "max ms", "goal", "ok?"], rows)


# --- The report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    min_ratio: float | None = None
    max_p99_ms: float | None = None

    def text(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:.0%}")
        if self.max_p99_ms is not None:
            parts.append(f"p99 <= {self.max_p99_ms:.0f} ms")
        return ", ".join(parts) or "-"

    def misses(self, ratio: float | None, p99: float | None) -> list[str]:
        missed = []
        if self.min_ratio is not None and (ratio is None or ratio < self.min_ratio):
            missed.append(f"ratio {ratio:.0%} < {self.min_ratio:.0%}" if ratio is not None else "no ratio")
        if self.max_p99_ms is not None and (p99 is None or p99 > self.max_p99_ms):
            missed.append(f"p99 {p99:.0f} ms > {self.max_p99_ms:.0f} ms" if p99 is not None else "no p99")
        return missed


GOALS: dict[str, Goal] = {
    f"issuer: token @{CONNECTIONS}": Goal(0.25, 50),
    f"issuer: balance @{CONNECTIONS}": Goal(0.25, 50),
    f"issuer: redemption @{CONNECTIONS}": Goal(0.10, 50),
    f"issuer: reversal @{CONNECTIONS}": Goal(0.10, 50),
    **{f"shop: {name} @{CONNECTIONS}": Goal(0.25, 50) for name, _ in SHOP_FIGURES},
    **{f"checkout: {step}": Goal(None, 100) for step in JOURNEY_GOAL_STEPS},
    INSIGHTS_LABEL: Goal(None, INSIGHTS_GOAL_MS),
}


def figure_rows() -> list[str]:
    rows = [f"issuer: token @{CONNECTIONS}"]
    rows += [f"issuer: balance @{c}" for c in GROWTH_CONNECTIONS]
    rows += [f"issuer: redemption @{c}" for c in GROWTH_CONNECTIONS]
    rows += [f"issuer: reversal @{CONNECTIONS}"]
    rows += [f"shop: {name} @{CONNECTIONS}" for name, _ in SHOP_FIGURES]
    return rows


def print_table(header: list[str], rows: list[list[str]], left: int = 1) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for index, row in enumerate([header, *rows]):
        print("  ".join(cell.ljust(widths[i]) if i < left else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def print_latency_table(results: list[Result]) -> None:
    header = ["operation", "calls", "errors", "p50 ms", "p95 ms", "max ms", "req/s"]
    print_table(header, [result.row() for result in results])


def short_backend(backend: str) -> str:
    """The backend's name as the summary table's column headers and goal misses spell it."""
    return "PG" if backend == "PostgreSQL" else backend


def summary_header(columns: list[Column]) -> list[str]:
    header = ["figure", "req/s", "p99 ms", "ratio to floor", "goal", "ok?"]
    for column in columns[1:]:
        short = short_backend(column.backend)
        header += [f"{short} req/s", f"{short} p99 ms", f"{short} ratio", f"{short} ok?"]
    return header


def record_miss(misses: dict[str, list[str]], label: str, column: Column, text: str) -> None:
    misses.setdefault(label, []).append(f"{short_backend(column.backend)} {text}")


def verdict(misses: dict[str, list[str]], column: Column, label: str, ratio: float | None, p99: float | None) -> str:
    """The ok? cell of a figure with a goal ("-" without one), recording what it missed."""
    goal = GOALS.get(label)
    if goal is None:
        return "-"
    missed = goal.misses(ratio, p99)
    if missed:
        record_miss(misses, label, column, ", ".join(missed))
    return "NO" if missed else "yes"


def goal_text(label: str) -> str:
    return GOALS[label].text() if label in GOALS else "-"


def column_cells(index: int, cells: list[str], goal: str, ok: str) -> list[str]:
    """One column's cells of a row; the goal cell only follows the first (SQLite) column's."""
    return cells + ([goal] if index == 0 else []) + [ok]


def floor_row(floor: WrkResult, columns: list[Column]) -> list[str]:
    return [
        f"floor @{CONNECTIONS} (bare Flask, gthread 2x8, best of {FLOOR_RUNS})",
        f"{floor.rate:.0f}",
        f"{floor.p99_ms:.1f}",
        "100%",
        "-",
        "-",
    ] + ["", "", "", ""] * (len(columns) - 1)


def figure_cells(misses: dict[str, list[str]], floor: WrkResult, column: Column, label: str) -> tuple[list[str], str]:
    """One wrk figure's req/s, p99 and ratio cells in one column, and its ok? cell."""
    result = column.figures.get(label)
    if result is None:
        if label in GOALS:
            record_miss(misses, label, column, "not measured")
        return ["-", "-", "-"], "-" if label not in GOALS else "NO"
    ratio = result.rate / floor.rate if floor.rate else None
    cells = [f"{result.rate:.0f}", f"{result.p99_ms:.1f}", f"{ratio:.0%}" if ratio is not None else "-"]
    return cells, verdict(misses, column, label, ratio, result.p99_ms)


def figure_row(misses: dict[str, list[str]], floor: WrkResult, columns: list[Column], label: str) -> list[str]:
    row = [label]
    for index, column in enumerate(columns):
        cells, ok = figure_cells(misses, floor, column, label)
        row += column_cells(index, cells, goal_text(label), ok)
    return row


def journey_p99(column: Column, step: str) -> float | None:
    """The step's p99 in ms over the column's checkouts; None without checkouts or without one that got there."""
    journeys = column.journeys
    result = None
    if journeys is not None:
        result = journeys.whole if step == "whole journey" else journeys.steps[step]
    return result.percentile(0.99) if result is not None and result.latencies else None


def journey_row(misses: dict[str, list[str]], columns: list[Column], shoppers: int, step: str) -> list[str]:
    label = f"checkout: {step}"
    row = [f"checkout x{shoppers}: {step}"]
    for index, column in enumerate(columns):
        p99 = journey_p99(column, step)
        ok = verdict(misses, column, label, None, p99) if label in GOALS else "-"
        cells = ["-", f"{p99:.1f}" if p99 is not None else "-", "-"]
        row += column_cells(index, cells, goal_text(label), ok)
    return row


def statements_row(misses: dict[str, list[str]], columns: list[Column]) -> list[str]:
    # Counted as the "today 30" was: SQL statements, BEGIN/SAVEPOINT/RELEASE left out.
    row = ["redemption: SQL statements (no BEGIN)"]
    for index, column in enumerate(columns):
        if column.statements is None:
            cells, ok = ["-", "-", "-"], "-"
        else:
            total, control = column.statements
            count = total - control
            cells = [str(count), "-", "-"]
            ok = "yes" if count <= STATEMENTS_GOAL else "NO"
            if count > STATEMENTS_GOAL:
                record_miss(misses, "redemption SQL statements", column, f"{count} > {STATEMENTS_GOAL}")
        row += column_cells(index, cells, f"<= {STATEMENTS_GOAL} (today {TODAY_STATEMENTS})", ok)
    return row


def rss_row(columns: list[Column], app: str) -> list[str]:
    row = [f"{app}: peak RSS, MiB (master + workers)"]
    for index, column in enumerate(columns):
        rss = column.rss.get(app)
        if not rss:
            cells, ok = ["-", "-", "-"], "-"
        else:
            mib = sum(rss.values()) / 1024
            cells, ok = [f"{mib:.0f}", "-", "-"], f"{mib / TODAY_RSS_MIB[app] - 1:+.0%} vs today"
        row += column_cells(index, cells, f"compare: today {TODAY_RSS_MIB[app]}", ok)
    return row


def summary_table(floor: WrkResult, columns: list[Column], shoppers: int) -> list[str]:
    """Print the one table; return the goals missed, one entry per figure."""
    misses_by_figure: dict[str, list[str]] = {}  # filled row by row, column by column: the order they are listed in
    rows = [floor_row(floor, columns)]
    rows += [figure_row(misses_by_figure, floor, columns, label) for label in figure_rows()]
    rows += [journey_row(misses_by_figure, columns, shoppers, step) for step in [*JOURNEY_STEPS, "whole journey"]]
    rows.append(statements_row(misses_by_figure, columns))
    rows.append(insights_row(misses_by_figure, columns))
    rows += [rss_row(columns, app) for app in ("issuer", "shop")]
    print_table(summary_header(columns), rows)
    return [f"{label} [{'; '.join(texts)}]" for label, texts in misses_by_figure.items()]


def print_journeys(columns: list[Column], shoppers: int) -> None:
    for column in columns:
        journeys = column.journeys
        if journeys is None:
            continue
        print(
            f"\nPay with Points checkouts, {column.backend}: {shoppers} concurrent first-time shoppers, "
            f"each with its own test cardholder; a step = its form page if not yet shown + the POST + the page it "
            f"redirects to"
        )
        header = ["step", "done", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "goal"]
        rows = []
        for result in [*journeys.steps.values(), journeys.whole]:
            step = result.name.removeprefix("checkout: ")
            cells = [step, str(len(result.latencies)), str(result.errors)]
            if result.latencies:
                cells += [f"{result.percentile(p):.1f}" for p in (0.5, 0.95, 0.99, 1.0)]
            else:
                cells += ["-"] * 4
            goal = GOALS.get(result.name)
            rows.append(cells + [goal.text() if goal else "-"])
        print_table(header, rows)


# --- Main ---------------------------------------------------------------------------------------


def sqlite_backend(folder: Path) -> Backend:
    folder.mkdir(parents=True)
    return Backend("SQLite", f"sqlite:///{folder / 'issuer.sqlite3'}", f"sqlite:///{folder / 'shop.sqlite3'}", None)


def postgres_backend() -> tuple[Backend | None, str]:
    """Fresh PostgreSQL databases for the second column, or None and why there are none."""
    admin_url, source = postgres_admin_url()
    if admin_url is None:
        return None, f"PostgreSQL: skipped: {source}"
    try:
        backend = fresh_postgres(admin_url)
    except Exception as error:  # noqa: BLE001 - any driver or server error: say why and skip the column
        return None, f"PostgreSQL: skipped: cannot create the bench databases with {source}'s URL: {error}"
    where = urlsplit(admin_url)
    return backend, f"PostgreSQL: {where.hostname}:{where.port or 5432} ({source}), fresh databases " + ", ".join(
        PG_DATABASES.values()
    )


def parse_args() -> argparse.Namespace:
    """The command line; --quick overrides --duration, --no-postgres and caps the latency tables' calls."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds of wrk per figure (default 8)")
    parser.add_argument("--quick", action="store_true", help="2 s per figure, fewer table calls, no PostgreSQL")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL columns")
    parser.add_argument("--shoppers", type=int, default=SHOPPERS, help=f"concurrent checkouts (default {SHOPPERS})")
    parser.add_argument("--requests", type=int, default=200, help="calls per issuer operation in the latency table")
    parser.add_argument("--shop-requests", type=int, default=100, help="requests per shop page in the latency table")
    parser.add_argument("--clients", type=int, default=4, help="concurrent Python clients of the latency tables")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, SQLite files)")
    parser.add_argument(
        "--only",
        choices=["insights", "checkout"],
        help="measure only this figure (on SQLite, and PostgreSQL unless skipped)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration = 2
        args.no_postgres = True
        args.requests, args.shop_requests = min(args.requests, 40), min(args.shop_requests, 20)
    return args


def floor_or_failure(workdir: Path, wrk: Wrk, failures: list[str]) -> WrkResult | None:
    """The floor figure, or None when it could not be measured; its problems are added to failures."""
    floor: WrkResult | None = None
    try:
        floor = measure_floor(workdir, wrk)
        if floor.error_text():
            failures.append(f"floor: {floor.error_text()}")
    except (BenchError, requests.RequestException, RuntimeError) as error:
        failures.append(f"floor: {error}")
    return floor


def measure_columns(workdir: Path, wrk: Wrk, args: argparse.Namespace) -> tuple[list[Column], str]:
    """The SQLite column, then the PostgreSQL one unless skipped; and the note saying which PostgreSQL (or why not)."""
    columns = [measure(sqlite_backend(workdir / "sqlite"), workdir / "sqlite", wrk, args, tables=True)]
    backend, postgres_note = (None, "PostgreSQL: skipped (--quick or --no-postgres)")
    if not args.no_postgres:
        backend, postgres_note = postgres_backend()
    if backend is not None:
        (workdir / "postgresql").mkdir()
        columns.append(measure(backend, workdir / "postgresql", wrk, args, tables=False))
    return columns, postgres_note


def print_latency_tables(columns: list[Column], args: argparse.Namespace) -> None:
    """The Python clients' per-endpoint tables; only the SQLite column measures them."""
    sqlite_column = columns[0] if columns else None
    if sqlite_column is not None and sqlite_column.issuer_table:
        print(f"Summit Bank sandbox (gunicorn.conf.py, SQLite): {args.clients} concurrent Python clients")
        print("req/s: calls of that operation per second of its phase's wall time (redemption and reversal share one)")
        print()
        print_latency_table(sqlite_column.issuer_table)
        print()
    if sqlite_column is not None and sqlite_column.shop_table:
        print(f"Harbour Mall shop (gunicorn.conf.py, SQLite): {args.clients} concurrent Python clients")
        print("sign-in POST: the POST alone (scrypt check, 302), not the home page it redirects to")
        print()
        print_latency_table(sqlite_column.shop_table)


def print_rss_and_checks(columns: list[Column], postgres_note: str) -> None:
    for column in columns:
        for app in ("issuer", "shop"):
            if column.rss.get(app):
                print(f"{app} ({column.backend}): {rss_line(column.rss[app])}")
    for column in columns:
        for check in column.checks:
            print(check)
    if postgres_note:
        print(postgres_note)


def print_summary(floor: WrkResult | None, columns: list[Column], args: argparse.Namespace) -> list[str]:
    """The wrk settings and the summary table; the goals missed (none without a floor: there is no table then)."""
    if floor is None:
        return []
    print()
    print(
        f"wrk {WRK_THREADS} threads, {CONNECTIONS} connections unless @N says otherwise, {args.duration} s per "
        f"figure, --timeout {WRK_TIMEOUT}; apps under gunicorn.conf.py; ratio = req/s / the floor's; "
        f"{os.cpu_count()} CPUs"
    )
    print()
    return summary_table(floor, columns, args.shoppers)


def finish(failures: list[str], workdir: Path, keep: bool) -> int:
    """The exit code: 1 (keeping the work folder with the servers' logs) when anything failed, else 0."""
    if failures:
        print(f"\nbench: FAILED: {len(failures)} problem(s):", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        print(f"bench: the servers' logs are kept in {workdir}", file=sys.stderr)
        return 1
    if keep:
        print(f"bench: work folder kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def only_insights(args: argparse.Namespace) -> int:
    """`--only insights`: the insights figure on each backend, its table, and the goals it missed."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="pwp-bench-insights-"))
    columns = [Column("SQLite")]
    measure_insights(columns[0], Backend("SQLite", "", "", None), workdir / "sqlite")
    backend, postgres_note = (None, "PostgreSQL: skipped (--quick or --no-postgres)")
    if not args.no_postgres:
        backend, postgres_note = postgres_backend()
    if backend is not None:
        columns.append(Column(backend.name))
        measure_insights(columns[1], backend, workdir / "postgresql")
    print_insights(columns)
    print()
    print_rss_and_checks(columns, postgres_note)
    misses: dict[str, list[str]] = {}
    insights_row(misses, columns)
    missed = [f"{label} [{'; '.join(texts)}]" for label, texts in misses.items()]
    print(f"\ngoals missed ({len(missed)}): " + (", ".join(missed) if missed else "none"))
    print(f"bench took {time.monotonic() - started:.0f} s")
    return finish(
        [f"{column.backend}: {failure}" for column in columns for failure in column.failures], workdir, args.keep
    )


def only_checkout(args: argparse.Namespace) -> int:
    """`--only checkout`: the concurrent checkouts on each backend, their table, the points check, the goals missed."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="pwp-bench-checkout-"))
    backends = [sqlite_backend(workdir / "sqlite")]
    postgres_note = "PostgreSQL: skipped (--quick or --no-postgres)"
    if not args.no_postgres:
        backend, postgres_note = postgres_backend()
        if backend is not None:
            (workdir / "postgresql").mkdir()
            backends.append(backend)
    columns = []
    for backend in backends:
        column = Column(backend.name)
        folder = workdir / ("sqlite" if backend.name == "SQLite" else "postgresql")
        apps = None
        try:
            apps = start_demo_apps(backend, folder)
            note(f"-- {backend.name}: {args.shoppers} concurrent first-time Pay with Points checkouts")
            column.journeys = journeys = concurrent_journeys(apps.shop.url, apps.issuer.url, args.shoppers)
            for failure in journeys.failures:
                column.fail(failure)
            sandbox = SandboxApi(apps.issuer.url)
            journeys.debited = sum(card.opening_points - sandbox.points(card.last4) for card in journeys.cards)
        except (BenchError, requests.RequestException, RuntimeError, AssertionError) as error:
            column.fail(f"stopped early: {error}")
        finally:
            for app in (apps.shop, apps.issuer) if apps else ():
                if app.process is not None and (problem := stop_cleanly(app)):
                    column.fail(problem)
        check_points(column, backend)
        columns.append(column)
    print_journeys(columns, args.shoppers)
    print()
    print_rss_and_checks(columns, postgres_note)
    misses: dict[str, list[str]] = {}
    for step in JOURNEY_GOAL_STEPS:
        journey_row(misses, columns, args.shoppers, step)
    missed = [f"{label} [{'; '.join(texts)}]" for label, texts in misses.items()]
    print(f"\ngoals missed ({len(missed)}): " + (", ".join(missed) if missed else "none"))
    print(f"bench took {time.monotonic() - started:.0f} s")
    return finish(
        [f"{column.backend}: {failure}" for column in columns for failure in column.failures], workdir, args.keep
    )


def main() -> int:
    args = parse_args()
    if args.only == "insights":
        return only_insights(args)
    if args.only == "checkout":
        return only_checkout(args)
    wrk = Wrk(ensure_wrk(), args.duration)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="pwp-bench-"))
    failures: list[str] = []
    floor = floor_or_failure(workdir, wrk, failures)
    columns, postgres_note = measure_columns(workdir, wrk, args)
    for column in columns:
        failures += [f"{column.backend}: {failure}" for failure in column.failures]

    print()
    print_latency_tables(columns, args)
    print_journeys(columns, args.shoppers)
    print_insights(columns)
    print()
    print_rss_and_checks(columns, postgres_note)
    missed = print_summary(floor, columns, args)
    print()
    print(f"goals missed ({len(missed)}): " + (", ".join(missed) if missed else "none"))
    print(f"bench took {time.monotonic() - started:.0f} s")
    return finish(failures, workdir, args.keep)


if __name__ == "__main__":
    sys.exit(main())
