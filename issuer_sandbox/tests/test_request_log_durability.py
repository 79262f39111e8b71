"""A money call's request-log row is written with its money: a worker that dies before its buffer is flushed
cannot lose it (issue 10). "Dies" is simulated by discarding the buffer, which is what SIGKILL does to it;
e2e/test_request_log_durability.py does it with a real SIGKILL under gunicorn.
"""

from __future__ import annotations

import uuid

import flask_sqlalchemy.session
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from issuer_sandbox import request_log
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RequestLogEntry

from .conftest import SANDBOX_KEY, close_app, make_app
from .redemption_support import (
    REVERSALS_PATH,
    balance_path,
    check_ledger,
    make_link,
    partner_api,
    points_of,
    redeem_path,
    redemption_body,
)

PAYMENTS = "/gateway/v1/payments"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(request, tmp_path):
    """A seeded app whose writer thread waits an hour between flushes: only a flush (or its loss) decides."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'issuer.sqlite3'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    app = make_app(url, REQUEST_LOG_FLUSH_MS=3_600_000)
    yield app
    close_app(app)


def worker_dies(app) -> None:
    """What SIGKILL does to the request log: every buffered row is gone, nothing is flushed."""
    request_log.writer(app).discard()


def flush(app) -> None:
    request_log.writer(app).flush()


def rows(app, **where) -> list[RequestLogEntry]:
    with app.app_context():
        query = sa.select(RequestLogEntry).filter_by(**where).order_by(RequestLogEntry.id)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        return found


def payment_body(reference: str = "HM-PAY-1", amount: int = 52_000) -> dict:
    return {
        "amount": amount,
        "currency": "HKD",
        "card": {"number": "4966010000008741", "expiryMonth": 12, "expiryYear": 2099, "cvc": "123"},
        "merchantReference": reference,
    }


def redeem(api, link, reference="HM-DUR-1", **body):
    return api.post(redeem_path(link), json=redemption_body(reference=reference, **body))


# --- The four money calls ---------------------------------------------------------------------


def test_a_committed_redemption_keeps_its_row_when_the_worker_dies_before_the_flush(app):
    api = partner_api(app)
    link = make_link(app)
    sent_uuid = str(uuid.uuid4())

    answer = api.post(redeem_path(link), json=redemption_body(reference="HM-DUR-1"), headers={"uuid": sent_uuid})
    assert answer.status_code == 200
    worker_dies(app)

    [row] = rows(app)
    assert row.answer_logged is False
    assert (row.method, row.endpoint, row.path) == ("POST", "redemptions.redeem", redeem_path(link))
    assert (row.status, row.client_id, row.request_uuid) == (200, "harbour-mall", sent_uuid)
    assert row.idempotency_key == "HM-DUR-1"
    assert '"pointsToRedeem":50000' in row.request_body
    assert row.response_body == "" and row.replayed is False and row.fault == ""
    assert points_of(app) == 120_000 - 50_000  # the money the row stands for
    assert check_ledger(app) == []


def test_a_committed_reversal_keeps_its_row_when_the_worker_dies_before_the_flush(app):
    api = partner_api(app)
    order_id = redeem(api, make_link(app)).json["orderId"]
    flush(app)
    reversal = {"orderId": order_id, "reversalReferenceNumber": "HM-DUR-1-R1", "pointsToReverse": 50_000}

    assert api.post(REVERSALS_PATH, json=reversal).status_code == 200
    worker_dies(app)

    [row] = rows(app, endpoint="redemptions.reverse")
    assert (row.answer_logged, row.status, row.idempotency_key) == (False, 200, "HM-DUR-1-R1")
    assert points_of(app) == 120_000


def test_a_card_payment_and_its_refund_keep_their_rows_when_the_worker_dies_before_the_flush(app):
    api = partner_api(app)
    payment = api.post(PAYMENTS, json=payment_body(), headers={"Idempotency-Key": "PAY-KEY-1"})
    assert payment.status_code == 201, payment.text
    refund = api.post(
        f"{PAYMENTS}/{payment.json['paymentId']}/refunds", json={"amount": 2_000}, headers={"Idempotency-Key": "RF-1"}
    )
    assert refund.status_code == 201, refund.text
    worker_dies(app)

    logged = rows(app)
    assert [(row.endpoint, row.status, row.idempotency_key, row.answer_logged) for row in logged] == [
        ("gateway.create_payment", 201, "PAY-KEY-1", False),
        ("gateway.create_refund", 201, "RF-1", False),
    ]
    assert "4966010000008741" not in logged[0].request_body  # masked as every logged body is
    assert '"cvc":"***"' in logged[0].request_body


# --- Completed by the buffer, exactly once ------------------------------------------------------


def test_the_flush_completes_the_money_calls_row_instead_of_adding_one(app):
    api = partner_api(app)
    link = make_link(app)
    answer = redeem(api, link)
    [pending] = rows(app)

    flush(app)

    [row] = rows(app)
    assert row.id == pending.id
    assert row.answer_logged is True
    assert row.status == 200
    assert row.response_body == answer.get_data(as_text=True).replace(" ", "")  # masked JSON is compact
    assert row.latency_ms >= pending.latency_ms
    assert row.at >= pending.at


def test_a_row_that_vanished_before_its_completion_is_written_whole(app):
    """A reset in another worker empties the table under this worker's buffer: the call is still logged."""
    api = partner_api(app)
    redeem(api, make_link(app))
    with app.app_context():
        db.session.execute(sa.delete(RequestLogEntry))
        db.session.commit()

    flush(app)

    [row] = rows(app)
    assert (row.endpoint, row.status, row.answer_logged) == ("redemptions.redeem", 200, True)
    assert '"orderId"' in row.response_body


# --- No fake rows, no cost elsewhere --------------------------------------------------------------


def test_a_refused_redemption_leaves_no_row_in_the_transaction_it_rolled_back(app):
    api = partner_api(app)
    link = make_link(app)

    assert redeem(api, link, "HM-DUR-BIG", points=100_000, amount="1000.00").status_code == 200
    flush(app)

    # Refused at the debit itself, after the transaction had begun to write: all of it rolls back.
    refused = redeem(api, link, "HM-DUR-TOO-MUCH", points=100_000, amount="1000.00")
    assert refused.json["code"] == "inSufficientPointBalance"
    assert len(rows(app)) == 1  # nothing committed, nothing written before the flush
    flush(app)

    row = rows(app)[-1]
    assert (row.idempotency_key, row.status, row.answer_logged) == ("HM-DUR-TOO-MUCH", 422, True)
    assert points_of(app) == 20_000


def test_a_replay_moves_nothing_so_only_the_buffer_logs_it(app):
    api = partner_api(app)
    link = make_link(app)
    redeem(api, link)
    flush(app)

    replay = redeem(api, link)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(rows(app)) == 1
    flush(app)

    assert [(row.replayed, row.answer_logged) for row in rows(app)] == [(False, True), (True, True)]


def test_reads_and_tokens_keep_the_buffered_path(app):
    api = partner_api(app)
    link = make_link(app)
    client = api.client

    assert api.get(balance_path(link)).status_code == 200
    token = client.post(
        "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
        data={"grant_type": "client_credentials", "scope": "/api"},
        auth=("harbour-mall", "harbour-mall-secret"),
    )
    assert token.status_code == 200
    assert rows(app) == []
    assert request_log.writer(app).pending() == 2


def test_a_commit_that_fails_leaves_no_row_and_the_call_is_logged_by_the_buffer(app, monkeypatch):
    """The row's id is kept only once its transaction committed: a failed commit never becomes a lost update."""
    api = partner_api(app)
    link = make_link(app)
    session_class = flask_sqlalchemy.session.Session
    real_commit = session_class.commit
    failed = []

    def commit_fails_once(session):
        if not failed and request_log.money_call() is not None:
            failed.append(True)
            session.rollback()
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        return real_commit(session)

    monkeypatch.setattr(session_class, "commit", commit_fails_once)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answered by the 500 handler, as in production
    answer = redeem(api, link)
    monkeypatch.setattr(session_class, "commit", real_commit)

    assert answer.status_code == 500
    assert failed and rows(app) == []
    assert points_of(app) == 120_000
    flush(app)
    [row] = rows(app)
    assert (row.endpoint, row.status, row.answer_logged) == ("redemptions.redeem", 500, True)


# --- The console says what an unanswered row means ----------------------------------------------


def test_the_console_marks_a_row_whose_answer_was_never_logged(app):
    api = partner_api(app)
    link = make_link(app)
    redeem(api, link, reference="HM-LOST-ANSWER")
    worker_dies(app)
    console = app.test_client()
    assert console.post("/login", data={"password": "demo"}).status_code == 302

    page = console.get("/requests").get_data(as_text=True)

    assert "answer not logged" in page
    assert "the worker stopped before the answer was logged" in page
    assert "HM-LOST-ANSWER" in page
    assert "(not logged)" in page


def test_the_console_shows_a_completed_row_as_before(app):
    api = partner_api(app)
    redeem(api, make_link(app), reference="HM-ANSWERED")
    console = app.test_client()
    assert console.post("/login", data={"password": "demo"}).status_code == 302

    page = console.get("/requests").get_data(as_text=True)  # the console flushes this worker's buffer first

    assert "HM-ANSWERED" in page
    assert "answer not logged" not in page
    assert app.test_client().get("/sandbox/api/requests", headers={"X-Sandbox-Key": SANDBOX_KEY}).status_code == 200
