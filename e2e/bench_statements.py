"""How many SQL statements one partner API redemption costs: `python e2e/bench_statements.py [--database-url URL]`.

Run by e2e/bench.py in a subprocess of its own (so the bench process never imports the app). Creates the issuer
app on a fresh database (a temporary SQLite file unless --database-url names an empty PostgreSQL database),
seeds it, gets a token, links the happy card (enrol, the OTP from the sandbox SMS outbox, activate), makes one
warm-up redemption, then counts the engine's ``before_cursor_execute`` events during exactly one more
redemption POST through ``app.test_client()`` (the request's hooks, such as the request log, included: its row is
one INSERT inside the redemption's transaction, and its completion is written later by the buffer, not counted).

Prints one line: ``STATEMENTS {"statements": N, "control": M, "sql": [...]}`` (M of the N are transaction control:
BEGIN IMMEDIATE, SAVEPOINT, RELEASE...); --verbose prints each statement too.
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python e2e/bench_statements.py` finds e2e

from e2e.harness import SANDBOX_KEY  # noqa: E402
from e2e.sandbox_api import CLIENT_ID, CLIENT_SECRET, REWARDS  # noqa: E402
from issuer_sandbox import create_app, request_log  # noqa: E402
from issuer_sandbox.extensions import db  # noqa: E402
from issuer_sandbox.seed import seed_database  # noqa: E402

HAPPY_LAST4, HAPPY_PHONE = "8741", "91234567"
# Counted like any statement, and reported apart: BEGIN (IMMEDIATE), SAVEPOINT, RELEASE, COMMIT, ROLLBACK.
TRANSACTION_CONTROL = {"BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK"}


def count_statements(database_url: str) -> list[str]:
    app = create_app({"DATABASE_URL": database_url})
    with app.app_context():
        db.create_all()
        seed_database()
        db.session.remove()
    client = app.test_client()

    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    token = client.post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials", "scope": "/api"},
        headers={"Authorization": f"Basic {basic}"},
    )
    _expect(token, 200)

    def headers() -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token.json['access_token']}",
            "client_id": CLIENT_ID,
            "uuid": str(uuid.uuid4()),
            "Accept": "application/json",
        }

    enrol = client.post(
        f"{REWARDS}/linkage",
        json={
            "lastFourDigitsCardNumber": HAPPY_LAST4,
            "citiCardHolderPhoneNumber": HAPPY_PHONE,
            "merchantCustomerReferenceId": "BENCH-STATEMENTS",
        },
        headers=headers(),
    )
    _expect(enrol, 200)
    code = enrol.json["rewardLinkCode"]
    if enrol.json["linkStatus"] != "ACTIVE":
        sms = client.get(
            "/sandbox/api/sms", query_string={"phone": HAPPY_PHONE}, headers={"X-Sandbox-Key": SANDBOX_KEY}
        )
        _expect(sms, 200)
        otp = sms.json[0]["otp"]  # newest first; the sandbox reads the code out of the text
        _expect(client.put(f"{REWARDS}/{code}/activations", json={"linkageConfirmationCode": otp}, headers=headers()))

    def redeem(reference: str):
        return client.post(
            f"{REWARDS}/{code}/redemption",
            json={
                "transactionReferenceNumber": reference,
                "redemptionOrder": {
                    "transactionAmount": "520.00",
                    "currencyCode": "HKD",
                    "pointsToRedeem": 1000,
                    "transactionDescription": f"Bench statement count {reference}",
                },
            },
            headers=headers(),
        )

    _expect(redeem("BENCH-STMT-WARM-UP"), 200)  # first-use work (caches, prepared state) is not counted
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def listener(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        _expect(redeem("BENCH-STMT-1"), 200)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    request_log.writer(app).flush()  # now, while the database exists: not at exit, after its folder is gone
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return statements


def _expect(response, status: int = 200) -> None:
    if response.status_code != status:
        raise SystemExit(f"bench_statements: {response.request.path} -> {response.status_code} {response.text[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database to use (default: a temporary SQLite file)")
    parser.add_argument("--verbose", action="store_true", help="print each statement")
    args = parser.parse_args()
    if args.database_url:
        statements = count_statements(args.database_url)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-statements-") as tmp:
            statements = count_statements(f"sqlite:///{Path(tmp) / 'issuer.sqlite3'}")
    if args.verbose:
        for index, statement in enumerate(statements, 1):
            print(f"{index:3d}  {statement[:200]}", file=sys.stderr)
    control = [s for s in statements if s.split(" ", 1)[0].upper() in TRANSACTION_CONTROL]
    print("STATEMENTS " + json.dumps({"statements": len(statements), "control": len(control), "sql": statements}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
