"""Seed a shop database with 100,000 Pay with Points events for the insights figure of `make bench`.

`python e2e/bench_insights.py --database-url URL` adds journeys spread over the last 60 days (about 4.3 events a
journey: paid, offer, code, verified, redeemed; some skip, abandon or fail) to a database `flask --app shop seed`
has made, in bulk inserts, and prints ``SEEDED <events> events, <journeys> journeys``. e2e/bench.py runs it in a
process of its own (the bench never imports the apps) and times /insights over HTTP (`--only insights`).
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shop import create_app  # noqa: E402
from shop.checkout.events import rebuild_journeys  # noqa: E402
from shop.extensions import db  # noqa: E402
from shop.models import Order, PwpEvent, User  # noqa: E402
from shop.orders.rules import utcnow  # noqa: E402

STEPS = ("card_paid_eligible", "offer_shown", "code_sent", "verified", "points_redeemed")


def _journey_events(rng: random.Random) -> list[tuple[str, str]]:
    """A plausible journey: (kind, code); more than half redeem, the rest skip, leave or fail."""
    roll = rng.random()
    if roll < 0.55:
        return [(kind, "") for kind in STEPS]
    if roll < 0.7:
        return [("card_paid_eligible", ""), ("offer_shown", ""), ("skipped", "")]
    if roll < 0.85:
        return [("card_paid_eligible", ""), ("offer_shown", ""), ("code_sent", "")]
    return [("card_paid_eligible", ""), ("offer_shown", ""), ("code_sent", ""), ("failed", "otpExpired")]


def seed_events(events: int, seed: int = 7) -> int:
    """Add journeys until ``events`` events exist (inside an app context). Returns the journeys added."""
    rng = random.Random(seed)
    now = utcnow()
    shoppers = [
        {"email": f"bench{index}@example.com", "name": f"Bench {index}", "password_hash": "x", "created_at": now}
        for index in range(2000)
    ]
    db.session.execute(sa.insert(User), shoppers)
    user_ids = list(db.session.scalars(sa.select(User.id).where(User.email.like("bench%"))))
    orders, planned, made = [], [], 0
    while made < events:
        journey = _journey_events(rng)
        paid_at = now - timedelta(seconds=rng.randrange(59 * 86400))
        redeemed = journey[-1][0] == "points_redeemed"
        orders.append(
            {
                "reference": f"HM-B{len(orders):07d}",
                "user_id": rng.choice(user_ids),
                "status": "POINTS_APPLIED" if redeemed else "PAID",
                "subtotal_cents": 52_000,
                "delivery_fee_cents": 0,
                "total_cents": 52_000,
                "recipient_name": "Bench",
                "recipient_phone": "91234567",
                "address_line": "1 Harbour Road",
                "district": "Wan Chai",
                "card_last4": f"{rng.randrange(10000):04d}",
                "card_issued_by_summit": True,
                "card_points_eligible": True,
                "points_used": 25_000 if redeemed else 0,
                "statement_credit_cents": 10_000 if redeemed else 0,
                "created_at": paid_at,
                "paid_at": paid_at,
                "simulated": rng.random() < 0.2,
            }
        )
        planned.append((paid_at, journey))
        made += len(journey)
    db.session.execute(sa.insert(Order), orders)
    ids = dict(db.session.execute(sa.select(Order.reference, Order.id).where(Order.reference.like("HM-B%"))).all())
    rows = []
    for order, (paid_at, journey) in zip(orders, planned, strict=True):
        at = paid_at
        for kind, code in journey:
            rows.append(
                {"order_id": ids[order["reference"]], "user_id": order["user_id"], "kind": kind, "code": code, "at": at}
            )
            at += timedelta(seconds=rng.randrange(5, 120))
    db.session.execute(sa.insert(PwpEvent), rows)
    # Bulk inserts bypass record_event: fold the new events into their journey rows, as record_event would have.
    rebuild_journeys(ids.values())
    db.session.commit()
    # Fresh planner statistics after a bulk load, as autovacuum (PostgreSQL) would gather within a minute; without
    # them the first figures are planned for empty tables.
    for table in ("users", "orders", "pwp_events", "pwp_journeys", "card_links"):
        db.session.execute(sa.text(f"ANALYZE {table}"))
    db.session.commit()
    return len(orders)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a shop database `flask --app shop seed` has made")
    parser.add_argument("--events", type=int, default=100_000, help="events to add (default 100,000)")
    args = parser.parse_args()
    app = create_app({"DATABASE_URL": args.database_url})
    with app.app_context():
        journeys = seed_events(args.events)
        total = db.session.scalar(sa.select(sa.func.count()).select_from(PwpEvent))
    print(f"SEEDED {total} events, {journeys} journeys")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
