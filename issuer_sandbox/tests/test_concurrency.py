"""Twenty requests at once against one points account: never below zero, never debited twice.

Runs on SQLite (a temp file) always and on a fresh PostgreSQL database when TEST_POSTGRES_URL is set
(the ``backend_app`` fixture), one Flask test client per thread, all released together by a barrier.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from issuer_sandbox.extensions import db
from issuer_sandbox.models import CardStatementLine, LedgerAccount, LedgerEntry, LedgerTransaction, Redemption

from .redemption_support import (
    HAPPY,
    PREMIER,
    REVERSALS_PATH,
    card_ending,
    check_ledger,
    count,
    make_link,
    partner_api,
    points_of,
    redeem_path,
    redemption_body,
)

THREADS = 20


def run_together(app, requests: list[tuple[str, dict[str, Any]]]) -> list[tuple[int, dict, bool]]:
    """POST every (path, body) from its own thread and test client at the same moment.

    Returns (status, JSON body, replayed) per request, in order.
    """
    apis = [partner_api(app) for _ in requests]
    barrier = threading.Barrier(len(requests), timeout=60)

    def send(index: int) -> tuple[int, dict, bool]:
        path, body = requests[index]
        barrier.wait()
        response = apis[index].post(path, json=body)
        return response.status_code, response.get_json(), response.headers.get("Idempotent-Replayed") == "true"

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, range(len(requests)), timeout=300))


def redeemed_points_of(app, last4: str) -> int:
    """Points the ledger moved out of the card by REDEEM transactions."""
    with app.app_context():
        account_id = db.session.scalar(
            sa.select(LedgerAccount.id).where(LedgerAccount.card_id == card_ending(last4).id)
        )
        total = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
            .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
            .where(LedgerEntry.account_id == account_id, LedgerTransaction.kind == "REDEEM")
        )
        return -int(total)


def test_twenty_concurrent_redemptions_never_overdraw_and_successes_equal_the_debit(backend_app):
    app = backend_app
    link = make_link(app, HAPPY)
    # 20 x 7,000 = 140,000 points asked of 120,000: exactly 17 fit, 1,000 stay.
    requests = [
        (redeem_path(link), redemption_body(reference=f"HM-C{n:03d}", points=7_000, amount="50.00"))
        for n in range(THREADS)
    ]
    results = run_together(app, requests)

    succeeded = [body for status, body, _ in results if status == 200]
    refused = [body for status, body, _ in results if status != 200]
    assert {status for status, _, _ in results} <= {200, 422}
    assert {body["code"] for body in refused} <= {"inSufficientPointBalance"}
    assert len(succeeded) == 17
    assert sum(body["pointsRedeemed"] for body in succeeded) == 119_000 == redeemed_points_of(app, HAPPY)
    # Each success saw its own balance after its own debit: they ran one after another.
    assert sorted(body["availablePointBalance"] for body in succeeded) == [
        120_000 - 7_000 * k for k in range(17, 0, -1)
    ]
    assert points_of(app, HAPPY) == 1_000
    assert count(app, Redemption) == 17
    assert count(app, CardStatementLine) == 17
    with app.app_context():
        assert card_ending(HAPPY).outstanding_cents == -17 * 2_800
    assert check_ledger(app) == []


def test_twenty_concurrent_replays_of_one_reference_debit_once(backend_app):
    app = backend_app
    link = make_link(app, HAPPY)
    results = run_together(app, [(redeem_path(link), redemption_body())] * THREADS)

    assert [status for status, _, _ in results] == [200] * THREADS
    assert len({body["orderId"] for _, body, _ in results}) == 1
    assert all(body == results[0][1] for _, body, _ in results)
    assert Counter(replayed for _, _, replayed in results) == {True: THREADS - 1, False: 1}
    assert points_of(app, HAPPY) == 70_000
    assert redeemed_points_of(app, HAPPY) == 50_000
    assert count(app, Redemption) == 1
    assert count(app, CardStatementLine) == 1
    assert check_ledger(app) == []


def test_one_reference_raced_on_two_cards_debits_only_one_of_them(backend_app):
    """Different cards do not share a lock: the unique (partner, reference) constraint decides."""
    app = backend_app
    links = [make_link(app, HAPPY), make_link(app, PREMIER)]
    requests = [(redeem_path(links[n % 2]), redemption_body()) for n in range(THREADS)]
    results = run_together(app, requests)

    winners = {n % 2 for n, (status, _, _) in enumerate(results) if status == 200}
    assert len(winners) == 1
    (winner,) = winners
    for n, (status, body, _) in enumerate(results):
        if n % 2 == winner:
            assert status == 200
        else:
            assert (status, body["code"]) == (409, "transactionAlreadyRedeemed")
    assert len({body["orderId"] for status, body, _ in results if status == 200}) == 1
    assert count(app, Redemption) == 1
    debits = {HAPPY: redeemed_points_of(app, HAPPY), PREMIER: redeemed_points_of(app, PREMIER)}
    assert sorted(debits.values()) == [0, 50_000]
    assert debits[(HAPPY, PREMIER)[winner]] == 50_000
    assert check_ledger(app) == []


def test_twenty_concurrent_reversals_never_give_back_more_than_was_redeemed(backend_app):
    app = backend_app
    link = make_link(app, HAPPY)
    order_id = partner_api(app).post(redeem_path(link), json=redemption_body()).json["orderId"]
    # 20 x 7,500 = 150,000 points asked back of 50,000: exactly 6 fit, 5,000 stay reversible.
    requests = [
        (REVERSALS_PATH, {"orderId": order_id, "reversalReferenceNumber": f"R{n:03d}", "pointsToReverse": 7_500})
        for n in range(THREADS)
    ]
    results = run_together(app, requests)

    succeeded = [body for status, body, _ in results if status == 200]
    assert {status for status, _, _ in results} <= {200, 422}
    assert {body["code"] for status, body, _ in results if status == 422} <= {"exceedsReversiblePoints"}
    assert len(succeeded) == 6
    assert sorted(body["remainingReversiblePoints"] for body in succeeded) == [
        5_000,
        12_500,
        20_000,
        27_500,
        35_000,
        42_500,
    ]
    assert points_of(app, HAPPY) == 70_000 + 45_000
    with app.app_context():
        redemption = db.session.scalar(sa.select(Redemption))
        assert (redemption.points_reversed, redemption.status) == (45_000, "PARTIALLY_REVERSED")
        assert card_ending(HAPPY).outstanding_cents == -20_000 + 6 * 3_000
    assert check_ledger(app) == []


def test_the_first_redemptions_on_different_cards_of_one_programme_all_succeed(backend_app):
    """They race to open the programme's redemption account: the loser must use the winner's, not fail."""
    app = backend_app
    links = [make_link(app, last4) for last4 in (HAPPY, "5051", "7909")]
    requests = [
        (redeem_path(links[n % 3]), redemption_body(reference=f"HM-F{n:03d}", points=1_000, amount="50.00"))
        for n in range(THREADS)
    ]
    results = run_together(app, requests)

    assert [status for status, _, _ in results] == [200] * THREADS, [body for _, body, _ in results]
    with app.app_context():
        pool = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == "redemption:REWARDS"))
        assert pool.balance == THREADS * 1_000
    assert check_ledger(app) == []
