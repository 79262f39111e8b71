"""A redemption that committed keeps its request-log row when its issuer worker is killed with SIGKILL (issue 10).

The issuer runs under gunicorn (the e2e pair; SQLite, or PostgreSQL with E2E_DATABASE=postgresql). A latency
fault on the redemption endpoint holds the answer back after the redemption committed; the test waits until
the status look-up finds the redemption, then SIGKILLs every issuer worker (the master starts new ones). The
row must be there, marked as never answered, in the database, the sandbox API and the console, and the ledger
must be consistent (`flask --app issuer_sandbox ledger-check`).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import uuid

import requests
import sqlalchemy as sa

from .harness import CONSOLE_PASSWORD, Apps, flask_command, gunicorn_workers
from .sandbox_api import CLIENT_ID, REWARDS, PartnerApi, SandboxApi, eventually

HAPPY_LAST4, HAPPY_MOBILE = "8741", "91234567"
POINTS = 10_000
# Far longer than the test needs to see the commit and kill the worker: the answer is still pending then.
HELD_ANSWER_MS = 30_000
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def kill_workers(apps: Apps) -> list[int]:
    assert apps.issuer.process is not None
    victims = gunicorn_workers(apps.issuer.process.pid)
    assert victims, "the issuer has no workers to kill"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    return victims


def redemption_body(reference: str) -> dict:
    return {
        "transactionReferenceNumber": reference,
        "redemptionOrder": {
            "transactionAmount": "368.00",
            "currencyCode": "HKD",
            "pointsToRedeem": POINTS,
            "transactionDescription": f"Harbour Mall order {reference}",
        },
    }


def logged_rows(database_url: str, reference: str) -> list[sa.Row]:
    """The issuer's request-log rows of this reference, read from its database as the apps left it."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = sa.text(
                "SELECT method, endpoint, status, answer_logged, response_body, replayed FROM request_log "
                "WHERE idempotency_key = :reference ORDER BY id"
            )
            return list(connection.execute(query, {"reference": reference}))
    finally:
        engine.dispose()


def console_request_log(issuer_url: str, path: str) -> str:
    """The console's request log page, signed in over plain HTTP (the sign-in form's CSRF token read first)."""
    session = requests.Session()
    token = CSRF.search(session.get(f"{issuer_url}/login", timeout=10).text)
    assert token, "no CSRF token on the console's sign-in page"
    signed_in = session.post(
        f"{issuer_url}/login", data={"csrf_token": token.group(1), "password": CONSOLE_PASSWORD}, timeout=10
    )
    assert signed_in.status_code == 200, signed_in.text[:300]
    page = session.get(f"{issuer_url}/requests", params={"path": path}, timeout=10)
    assert page.status_code == 200 and page.url.startswith(f"{issuer_url}/requests"), "not signed in to the console"
    return page.text


def test_a_redemption_committed_before_its_worker_was_killed_keeps_its_log_row(
    apps: Apps, sandbox: SandboxApi, partner: PartnerApi
):
    link = partner.link_card(sandbox, HAPPY_LAST4, HAPPY_MOBILE, f"C-KILL-{uuid.uuid4().hex[:8]}")
    points_before = sandbox.points(HAPPY_LAST4)
    sandbox.add_fault("redemptions.redeem", latency_ms=HELD_ANSWER_MS, fail_times=1)
    reference = f"HM-KILL-{uuid.uuid4().hex[:10].upper()}"
    redeem_path = f"{REWARDS}/{link}/redemption"
    outcome: dict[str, object] = {}

    def shop_redeems() -> None:
        """The shop's call, on a connection of its own: it never hears back."""
        headers = {"Authorization": f"Bearer {partner.token()}", "client_id": CLIENT_ID, "uuid": str(uuid.uuid4())}
        try:
            outcome["response"] = requests.post(
                f"{apps.issuer_url}{redeem_path}", json=redemption_body(reference), headers=headers, timeout=60
            )
        except requests.RequestException as error:
            outcome["error"] = error

    caller = threading.Thread(target=shop_redeems)
    caller.start()

    def committed() -> bool:
        found = partner.get(f"{REWARDS}/redemption", params={"transactionReferenceNumber": reference})
        return found.status_code == 200

    eventually(committed, timeout=20, what="the redemption to commit (found by the status look-up)")
    kill_workers(apps)
    caller.join(timeout=60)
    assert not caller.is_alive()
    assert "response" not in outcome, "the worker answered before it was killed: the test proved nothing"
    apps.issuer.wait_healthy()  # the master has started new workers

    # The row is in the database, marked as never answered: committed with the redemption, before the latency.
    [row] = logged_rows(apps.issuer.env["ISSUER_DATABASE_URL"], reference)
    assert (row.method, row.endpoint, row.status) == ("POST", "redemptions.redeem", 200)
    assert not row.answer_logged and row.response_body == "" and not row.replayed

    # The sandbox API and the console show it.
    [logged] = [entry for entry in sandbox.request_log(path="/redemption") if entry["idempotencyKey"] == reference]
    assert (logged["method"], logged["status"], logged["fault"]) == ("POST", 200, f"latency {HELD_ANSWER_MS} ms")
    page = console_request_log(apps.issuer_url, "/redemption")
    assert reference in page
    assert "answer not logged" in page and "the worker stopped before the answer was logged" in page

    # The money is consistent: debited once, and the shop's retry is answered from the stored redemption.
    assert sandbox.points(HAPPY_LAST4) == points_before - POINTS
    ledger = flask_command("issuer_sandbox", apps.issuer.env, "ledger-check", timeout=120)
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
    retry = partner.post(redeem_path, json=redemption_body(reference))
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert sandbox.points(HAPPY_LAST4) == points_before - POINTS

    # The retry is logged as a replay beside the unanswered row (within one flush of its worker).
    def retry_logged() -> bool:
        return len(logged_rows(apps.issuer.env["ISSUER_DATABASE_URL"], reference)) == 2

    eventually(retry_logged, what="the retry's row")
    rows = logged_rows(apps.issuer.env["ISSUER_DATABASE_URL"], reference)
    assert [(row.answer_logged, row.replayed) for row in rows] == [(False, False), (True, True)]
