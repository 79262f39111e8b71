"""Benchmark the issuer sandbox over loopback: `make bench` (or `python e2e/bench.py --requests 200`).

Starts the issuer under gunicorn with the Makefile's own GUNICORN line (free port, temporary SQLite file,
seeded), then measures token, balance, redemption and reversal calls from 4 concurrent clients: latency
p50/p95, throughput, and the gunicorn processes' peak RSS (VmHWM from /proc). Prints a table and exits 0;
it asserts nothing about timing. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

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


def gunicorn_command(port: int) -> list[str]:
    """The Makefile's GUNICORN line (so the benchmark runs what `make demo` runs), bound to one port."""
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^GUNICORN\s*=\s*((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    if match is None:
        raise SystemExit("bench: no GUNICORN line in the Makefile")
    line = match.group(1).replace("\\\n", " ").replace("$(BIN)", str(BIN))
    return [*shlex.split(line), "--bind", f"127.0.0.1:{port}", "issuer_sandbox:create_app()"]


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
    env = {
        **os.environ,
        "ISSUER_ENV": "demo",
        "ISSUER_DATABASE_URL": f"sqlite:///{workdir / 'issuer.sqlite3'}",
    }
    subprocess.run(
        [str(BIN / "flask"), "--app", "issuer_sandbox", "seed"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    log_path = workdir / "gunicorn.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            gunicorn_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: gunicorn exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)  # polling a process that is starting
    server.stop()
    raise SystemExit("bench: the issuer did not become healthy in 30 s")


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
            f"{throughput:.0f}",
        ]


def run_concurrently(
    clients: list[Partner], per_client: int, step: Callable[[Partner, int, dict[str, Result]], None], names: list[str]
) -> dict[str, Result]:
    """Each client runs ``step`` per_client times in its own thread; results are timed per call name."""
    results = {name: Result(name) for name in names}
    lock = threading.Lock()

    def worker(client: Partner, offset: int) -> None:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="calls per measured operation (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    args = parser.parse_args()
    per_client = max(1, args.requests // args.clients)

    with tempfile.TemporaryDirectory(prefix="issuer-bench-") as tmp:
        server = start_server(Path(tmp))
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
        finally:
            server.stop()

    print_report(results, rss, args.clients, final_balance["availablePointBalance"])
    return 0


def print_report(results: list[Result], rss: dict[int, int], clients: int, final_points: int) -> None:
    header = ["operation", "calls", "errors", "p50 ms", "p95 ms", "max ms", "req/s"]
    rows = [header, *(result.row() for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"Summit Bank sandbox under gunicorn (Makefile GUNICORN line), SQLite, {clients} concurrent clients")
    print("req/s: calls of that operation per second of its phase's wall time (redemption and reversal share one).")
    print()
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print()
    master, *workers = rss
    print(
        f"peak RSS (VmHWM): master {rss[master] / 1024:.1f} MiB; "
        + ", ".join(f"worker {pid} {rss[pid] / 1024:.1f} MiB" for pid in workers)
        + f"; total {sum(rss.values()) / 1024:.1f} MiB"
    )
    print(f"happy card balance after redeem+reverse pairs: {final_points:,} points (seeded 120,000)")


if __name__ == "__main__":
    sys.exit(main())
