"""Both apps' peak RSS after a short load: `python e2e/bench_memory.py [--clients N] [--requests N] [--shoppers N]`.

The memory figure of `make bench` without the rest of it (a minute, not the whole machine for five): both apps
seeded and started as the bench starts them (e2e/harness.py's ``start_apps``, gunicorn.conf.py, SQLite), then the
bench's own Python load on the main endpoints and pages (e2e/bench.py's ``issuer_table``, ``shop_table`` and
``concurrent_journeys``: token, balance, redemption and reversal calls, the shop's home, category, search, product
and cart pages, sign-ins and whole first-time checkouts with a sign-up and a redemption each), then each gunicorn
process's VmHWM (master and workers) and their sum, as the bench reports it.
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python e2e/bench_memory.py` finds e2e

from e2e.bench import (  # noqa: E402
    TODAY_RSS_MIB,
    concurrent_journeys,
    issuer_table,
    rss_line,
    rss_of,
    shop_table,
    stop_cleanly,
)
from e2e.harness import start_apps  # noqa: E402
from e2e.sandbox_api import SandboxApi  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent Python clients per table (16)")
    parser.add_argument("--requests", type=int, default=320, help="calls per operation and page, over all clients")
    parser.add_argument("--shoppers", type=int, default=20, help="concurrent first-time checkouts (20)")
    args = parser.parse_args(argv)
    per_client = max(1, args.requests // args.clients)
    failed = False
    with tempfile.TemporaryDirectory(prefix="pwp-bench-memory-") as folder:
        workdir = Path(folder)
        apps = start_apps(
            workdir,
            issuer_settings={"ISSUER_ENV": "demo"},
            shop_settings={"SHOP_ENV": "demo"},
            server_flags=(),
        )
        try:
            results = issuer_table(apps.issuer.url, SandboxApi(apps.issuer.url), args.clients, per_client)
            results += shop_table(apps.shop.url, args.clients, per_client)
            journeys = concurrent_journeys(apps.shop.url, apps.issuer.url, args.shoppers)
            for result in results:
                if result.errors:
                    print(f"bench_memory: {result.name}: {result.errors} errors", file=sys.stderr)
                    failed = True
            for failure in journeys.failures:
                print(f"bench_memory: {failure}", file=sys.stderr)
                failed = True
            calls = sum(len(result.latencies) for result in results)
            print(f"load: {calls} calls and pages, {len(journeys.whole.latencies)} of {args.shoppers} checkouts")
            rss = {"issuer": rss_of(apps.issuer), "shop": rss_of(apps.shop)}
        finally:
            for app in (apps.shop, apps.issuer):
                problem = stop_cleanly(app)
                if problem:
                    print(f"bench_memory: {problem}", file=sys.stderr)
                    failed = True
    for name, peaks in rss.items():
        goal = TODAY_RSS_MIB[name]
        verdict = "ok" if sum(peaks.values()) / 1024 <= goal else "MISSED"
        print(f"{name}: {rss_line(peaks)} (goal <= {goal} MiB: {verdict})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
