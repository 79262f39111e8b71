"""Where one partner API call spends its time: `python e2e/bench_profile.py [--calls N] [--database-url URL]`.

The companion of `make bench` for the goals it shows as missed: it runs the issuer in-process
(`app.test_client()`, no sockets, no gunicorn) on a fresh seeded database, links the happy card as
e2e/bench_statements.py does, and profiles N calls of each kind (token, balance, redemption, reversal) with
cProfile, next to N calls of the bare Flask floor app (e2e/bench_floor.py) in the same process. For each kind it
prints the in-process cost per call, its ratio to the floor's, and the share of the time by layer (the file each
function's code lives in): Flask and Werkzeug, SQLAlchemy, the database driver, pydantic, Flask-Limiter, the
issuer's own code, and the rest (json, hashlib, logging, the standard library), plus the heaviest functions of
that kind.
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python e2e/bench_profile.py` finds e2e

from e2e.bench_statements import HAPPY_LAST4, HAPPY_PHONE, _expect  # noqa: E402
from e2e.harness import SANDBOX_KEY  # noqa: E402
from e2e.sandbox_api import CLIENT_ID, CLIENT_SECRET, REWARDS  # noqa: E402
from issuer_sandbox import create_app, request_log  # noqa: E402
from issuer_sandbox.extensions import db  # noqa: E402
from issuer_sandbox.seed import seed_database  # noqa: E402

TOKEN_PATH = "/gcb/api/clientCredentials/oauth2/token/hk/gcb"
POINTS = 1000  # per redemption, the programme's minimum (HK$4.00)
TOP_UP_POINTS = 100_000_000  # the most one sandbox adjustment may add: thousands of redemptions
# (layer, a path fragment of the files whose code belongs to it), first match wins.
LAYERS = (
    ("flask+werkzeug", ("/flask/", "/werkzeug/", "/jinja2/", "/itsdangerous/", "/blinker/")),
    ("sqlalchemy", ("/sqlalchemy/", "/flask_sqlalchemy/")),
    ("driver", ("/psycopg/", "/sqlite3/", "<method '", "_sqlite3", "psycopg")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("limiter", ("/flask_limiter/", "/limits/")),
    ("issuer", ("/issuer_sandbox/",)),
)


def layer_of(filename: str, function: str) -> str:
    where = filename if filename != "~" else function  # C functions: "~" and a name such as <method 'execute' ...>
    for layer, fragments in LAYERS:
        if any(fragment in where for fragment in fragments):
            return layer
    if filename == "~" and ("sqlite3.Cursor" in function or "sqlite3.Connection" in function):
        return "driver"
    return "other"


def floor_client():
    """The floor app of e2e/bench_floor.py, loaded by path (it is a script, not a module of a package)."""
    spec = importlib.util.spec_from_file_location("bench_floor", Path(__file__).with_name("bench_floor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app.test_client()


class LinkedPartner:
    """The issuer in-process with the happy card linked, and one call of each kind the bench loads."""

    def __init__(self, database_url: str) -> None:
        self.app = create_app({"DATABASE_URL": database_url})
        with self.app.app_context():
            db.create_all()
            seed_database()
            db.session.remove()
        self.client = self.app.test_client()
        self.token = self.get_token().json["access_token"]
        enrol = self.client.post(
            f"{REWARDS}/linkage",
            json={
                "lastFourDigitsCardNumber": HAPPY_LAST4,
                "citiCardHolderPhoneNumber": HAPPY_PHONE,
                "merchantCustomerReferenceId": "BENCH-PROFILE",
            },
            headers=self.headers(),
        )
        _expect(enrol)
        self.code = enrol.json["rewardLinkCode"]
        if enrol.json["linkStatus"] != "ACTIVE":
            sms = self.client.get(
                "/sandbox/api/sms", query_string={"phone": HAPPY_PHONE}, headers={"X-Sandbox-Key": SANDBOX_KEY}
            )
            _expect(sms)
            confirmation = {"linkageConfirmationCode": sms.json[0]["otp"]}
            _expect(self.client.put(f"{REWARDS}/{self.code}/activations", json=confirmation, headers=self.headers()))
        self.orders: list[str] = []
        top_up = self.client.post(
            f"/sandbox/api/cards/{HAPPY_LAST4}/points",
            json={"delta": TOP_UP_POINTS, "reason": "bench_profile top-up"},
            headers={"X-Sandbox-Key": SANDBOX_KEY},
        )
        _expect(top_up, top_up.status_code if top_up.status_code in (200, 201) else 200)

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "client_id": CLIENT_ID,
            "uuid": str(uuid.uuid4()),
            "Accept": "application/json",
        }

    def get_token(self):
        response = self.client.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials", "scope": "/api"},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        _expect(response)
        return response

    def balance(self):
        response = self.client.get(f"{REWARDS}/{self.code}/pointBalance", headers=self.headers())
        _expect(response)
        return response

    def redemption(self):
        reference = f"PROFILE-{uuid.uuid4().hex[:12]}"
        body = {
            "transactionReferenceNumber": reference,
            "redemptionOrder": {
                "transactionAmount": "520.00",
                "currencyCode": "HKD",
                "pointsToRedeem": POINTS,
                "transactionDescription": f"Profile {reference}",
            },
        }
        response = self.client.post(f"{REWARDS}/{self.code}/redemption", json=body, headers=self.headers())
        _expect(response)
        self.orders.append(response.json["orderId"])
        return response

    def reversal(self):
        order_id = self.orders.pop()
        body = {"orderId": order_id, "reversalReferenceNumber": f"{order_id}-R", "pointsToReverse": POINTS}
        response = self.client.post(f"{REWARDS}/redemption/reversals", json=body, headers=self.headers())
        _expect(response)
        return response

    def close(self) -> None:
        request_log.writer(self.app).flush()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def profile(call: Callable[[], object], calls: int) -> tuple[float, pstats.Stats]:
    """Seconds per call (unprofiled, best of three runs) and the profile of one more run."""
    for _ in range(min(calls, 20)):
        call()  # warm up: caches, compiled statements, first-use imports
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    return best, pstats.Stats(profiler)


def shares(stats: pstats.Stats) -> dict[str, float]:
    """Own time (tottime) by layer, as fractions of the profiled total."""
    by_layer: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in stats.stats.items():
        by_layer[layer_of(filename, function)] += own
    total = sum(by_layer.values()) or 1.0
    return {layer: seconds / total for layer, seconds in by_layer.items()}


def heaviest(stats: pstats.Stats, calls: int, count: int) -> list[str]:
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:count]
    lines = []
    for (filename, line, function), (_cc, ncalls, own, _cum, _callers) in rows:
        where = function if filename == "~" else f"{Path(filename).parent.name}/{Path(filename).name}:{line} {function}"
        lines.append(f"    {own / calls * 1e6:8.0f} µs  {ncalls / calls:6.1f}×  {where}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls of each kind (default 300)")
    parser.add_argument("--database-url", help="an empty database to use (default: a temporary SQLite file)")
    parser.add_argument("--top", type=int, default=8, help="heaviest functions shown per kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        partner = LinkedPartner(args.database_url or f"sqlite:///{Path(tmp) / 'issuer.sqlite3'}")
        floor = floor_client()
        kinds: dict[str, Callable[[], object]] = {
            "floor": lambda: floor.get("/"),
            "token": partner.get_token,
            "balance": partner.balance,
            "redemption": partner.redemption,
            "reversal": partner.reversal,
        }
        results = {}
        for kind, call in kinds.items():
            if kind == "reversal":  # one redemption to reverse per call, made beforehand and not counted
                for _ in range(args.calls * 4 + 20):
                    partner.redemption()
            results[kind] = profile(call, args.calls)
        partner.close()
    floor_seconds = results["floor"][0]
    layers = [layer for layer, _ in LAYERS] + ["other"]
    print(f"In-process cost per call ({args.calls} calls each, best of 3; floor = bare Flask JSON, same process)")
    print(f"{'kind':<11}{'µs/call':>9}{'× floor':>9}  " + "".join(f"{layer:>15}" for layer in layers))
    for kind, (seconds, stats) in results.items():
        share = shares(stats)
        cells = "".join(f"{share.get(layer, 0.0):>15.0%}" for layer in layers)
        print(f"{kind:<11}{seconds * 1e6:>9.0f}{seconds / floor_seconds:>9.1f}  {cells}")
    for kind, (_seconds, stats) in results.items():
        print(f"\n{kind}: heaviest functions (own time per call, calls per call)")
        print("\n".join(heaviest(stats, args.calls, args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
