"""SQLite set-up for speed without losing safety: read intent, the writers' queue, and the buffered request log."""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import datetime

import pytest
import sqlalchemy as sa

from issuer_sandbox import database, request_log
from issuer_sandbox.extensions import db
from issuer_sandbox.models import RequestLogEntry, SandboxSetting

from .conftest import PartnerApi, close_app, default_database_url, make_app
from .redemption_support import balance_path, make_link, partner_api, redeem_path, redemption_body


@pytest.fixture(params=["suite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def slow_flush_app(request, tmp_path):
    """An app whose writer thread waits an hour between flushes: only explicit flushes write.

    On the suite's database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql), and again on a fresh
    PostgreSQL database when TEST_POSTGRES_URL is set: the writer must keep its rows on both.
    """
    if request.param == "suite":
        url = default_database_url(tmp_path)
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    app = make_app(url, REQUEST_LOG_FLUSH_MS=3_600_000)
    yield app
    close_app(app)


def writer_lock_is_free(app) -> bool:
    """Try the writers' file lock from a descriptor of our own, without waiting."""
    path = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database + ".writer-lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops our lock, if we got it
    return True


@pytest.mark.sqlite_only(reason="SQLite's WAL and synchronous pragmas")
def test_sqlite_runs_in_wal_mode_with_normal_sync(app):
    with app.app_context():
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(sa.text("PRAGMA synchronous")).scalar() == 1  # NORMAL


@pytest.mark.sqlite_only(reason="the writers' file lock beside the SQLite file")
def test_a_write_transaction_holds_the_writers_lock_until_it_commits(app):
    with app.app_context():
        assert writer_lock_is_free(app)
        db.session.add(SandboxSetting(key="probe", value="1"))
        db.session.flush()
        assert not writer_lock_is_free(app)
        db.session.commit()
        assert writer_lock_is_free(app)


@pytest.mark.sqlite_only(reason="the writers' file lock beside the SQLite file")
def test_a_rolled_back_write_transaction_lets_the_lock_go_too(app):
    with app.app_context():
        db.session.execute(sa.select(SandboxSetting.key)).all()
        assert not writer_lock_is_free(app)
        db.session.rollback()
        assert writer_lock_is_free(app)


@pytest.mark.sqlite_only(reason="the writers' file lock beside the SQLite file")
def test_a_read_intent_transaction_neither_takes_nor_waits_for_the_write_lock(app):
    with app.app_context():
        db.session.add(SandboxSetting(key="probe", value="1"))
        db.session.flush()  # this context holds SQLite's write lock
        seen: list[int] = []

        def reader() -> None:
            with app.app_context(), database.reading():
                seen.append(db.session.scalar(sa.select(sa.func.count()).select_from(SandboxSetting)))
                assert writer_lock_is_free(app) is False  # still ours, not the reader's
                db.session.rollback()

        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the reader waited for the writer"
        assert seen == [0]  # the committed snapshot: the uncommitted row is not visible
        db.session.rollback()


@pytest.mark.sqlite_only(reason="SQLite's BEGIN modes (PostgreSQL has no database-wide write lock)")
def test_get_requests_begin_deferred_and_posts_take_the_write_lock(app, client):
    statements: list[str] = []
    begin_contexts: list[object] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, _params, context, _executemany) -> None:
        statements.append(statement)
        if statement.startswith("BEGIN"):
            begin_contexts.append(context)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        client.get("/sandbox/api/clock", headers={"X-Sandbox-Key": "demo-sandbox-key"})
        reads = [s for s in statements if s.startswith("BEGIN")]
        statements.clear()
        client.post("/sandbox/api/clock/advance", json={"seconds": 1}, headers={"X-Sandbox-Key": "demo-sandbox-key"})
        writes = [s for s in statements if s.startswith("BEGIN")]
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert reads and set(reads) == {"BEGIN"}
    assert "BEGIN IMMEDIATE" in writes
    # Run on a driver cursor, as Prebuilt's statements are: no execution context is built for a BEGIN.
    assert begin_contexts and all(context is None for context in begin_contexts)


def log_rows(app) -> list[RequestLogEntry]:
    with app.app_context():
        rows = db.session.scalars(sa.select(RequestLogEntry).order_by(RequestLogEntry.id)).all()
        db.session.expunge_all()
        return rows


def test_a_call_is_buffered_then_written_by_a_flush(slow_flush_app):
    app = slow_flush_app
    writer = request_log.writer(app)
    PartnerApi(app.test_client()).get("/v1/apac/rewards/NO-SUCH-LINK/pointBalance")
    assert writer.pending() >= 1
    writer.flush()
    assert writer.pending() == 0
    assert [row.path for row in log_rows(app)][-1] == "/v1/apac/rewards/NO-SUCH-LINK/pointBalance"


def test_the_writer_thread_writes_the_buffer_without_being_asked(app, api):
    writer = request_log.writer(app)
    api.get("/v1/apac/rewards/NO-SUCH-LINK/pointBalance")
    done = threading.Event()
    for _ in range(50):  # polled, bounded: the thread flushes every REQUEST_LOG_FLUSH_MS
        if writer.pending() == 0 and log_rows(app):
            done.set()
            break
        done.wait(0.1)
    assert done.is_set()


def test_a_failed_write_keeps_the_rows_for_the_next_attempt(slow_flush_app):
    app = slow_flush_app
    writer = request_log.writer(app)
    row = {
        "at": datetime(2026, 1, 1),
        "method": "GET",
        "path": "/v1/x",
        "status": 200,
        "latency_ms": 1,
    }
    writer.add(dict(row))
    with app.app_context():
        db.session.execute(sa.text("ALTER TABLE request_log RENAME TO request_log_away"))
        db.session.commit()
    assert writer.flush() == 0
    assert writer.pending() == 1
    with app.app_context():
        db.session.execute(sa.text("ALTER TABLE request_log_away RENAME TO request_log"))
        db.session.commit()
    assert writer.flush() == 1
    assert [r.path for r in log_rows(app)] == ["/v1/x"]


def test_a_sandbox_reset_forgets_the_calls_buffered_before_it(slow_flush_app):
    app = slow_flush_app
    writer = request_log.writer(app)
    client = app.test_client()
    PartnerApi(client).get("/v1/apac/rewards/NO-SUCH-LINK/pointBalance")
    assert writer.pending() == 2  # the token call and the balance call
    client.post("/sandbox/api/reset", headers={"X-Sandbox-Key": "demo-sandbox-key"})
    writer.flush()
    assert log_rows(app) == []


def sql_statements_of(app, call) -> list[str]:
    """The SQL statements (transaction control left out) that ``call`` sends to the database."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args) -> None:
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return statements


@pytest.mark.sqlite_only(reason="the statements of a request log batch on SQLite")
def test_a_request_log_batch_on_sqlite_is_its_insert_alone(tmp_path):
    """PostgreSQL's batch also sets synchronous_commit off (test_postgres_round_trips.py); SQLite's is unchanged."""
    app = make_app(default_database_url(tmp_path), REQUEST_LOG_FLUSH_MS=3_600_000)
    try:
        api = partner_api(app)
        link = make_link(app)
        assert api.get(balance_path(link)).status_code == 200
        statements = sql_statements_of(app, lambda: request_log.writer(app).flush())
        assert [statement.split()[:3] for statement in statements] == [["INSERT", "INTO", "request_log"]], statements
    finally:
        close_app(app)


# Issue 8's fence was 10 statements. Issue 10 moved it to 11 on purpose: the redemption's request-log row is
# now inserted inside the money transaction (so a killed worker cannot lose it), one INSERT on a table no
# other statement of the redemption writes. On SQLite the write lock precedes the snapshot, so the locking
# statement also reads what the reference stored: 10 again. PostgreSQL reads it in a statement of its own.
REDEMPTION_STATEMENTS = {"sqlite": 10, "postgresql": 11}
# A reversal, the call's context included: on SQLite its locking statement also reads the reversible points and
# what the reference stored (13 before), PostgreSQL reads those two after the lock in statements of their own.
REVERSAL_STATEMENTS = {"sqlite": 11, "postgresql": 13}


def test_a_redemption_takes_at_most_ten_statements_on_sqlite_its_log_row_included_and_a_balance_two(app):
    api = partner_api(app)
    link = make_link(app)
    with app.app_context():
        dialect = db.engine.dialect.name
    assert api.post(redeem_path(link), json=redemption_body(reference="HM-WARM")).status_code == 200
    redeem = sql_statements_of(app, lambda: api.post(redeem_path(link), json=redemption_body(reference="HM-COUNT")))
    balance = sql_statements_of(app, lambda: api.get(balance_path(link)))
    assert len(redeem) <= REDEMPTION_STATEMENTS[dialect], redeem
    assert sum(statement.startswith("INSERT INTO request_log") for statement in redeem) == 1, redeem
    assert len(balance) <= 2, balance
    assert not any("request_log" in statement for statement in balance), balance  # a read stays buffered


def test_a_reversal_takes_at_most_eleven_statements_on_sqlite_and_a_replay_writes_nothing(app):
    api = partner_api(app)
    link = make_link(app)
    with app.app_context():
        dialect = db.engine.dialect.name
    order_id = api.post(redeem_path(link), json=redemption_body(points=50_000)).json["orderId"]

    def reverse(reference: str):
        body = {"orderId": order_id, "reversalReferenceNumber": reference, "pointsToReverse": 1_000}
        response = api.post("/v1/apac/rewards/redemption/reversals", json=body)
        assert response.status_code == 200, response.json
        return response

    reverse("R-WARM")
    reversal = sql_statements_of(app, lambda: reverse("R-COUNT"))
    replay = sql_statements_of(app, lambda: reverse("R-COUNT"))
    assert len(reversal) <= REVERSAL_STATEMENTS[dialect], reversal
    assert sum(statement.startswith("INSERT INTO request_log") for statement in reversal) == 1, reversal
    # The call's context, then the lock that also finds the stored answer: nothing is written by a replay.
    assert len(replay) <= (2 if dialect == "sqlite" else 3), replay
    assert not any(statement.startswith(("INSERT", "UPDATE")) for statement in replay), replay


def test_the_amount_reversed_so_far_is_the_sum_of_the_partial_reversals(app):
    from issuer_sandbox import redemptions
    from issuer_sandbox.models import Redemption, RedemptionReversal

    api = partner_api(app)
    order_id = api.post(redeem_path(make_link(app)), json=redemption_body(points=50_000)).json["orderId"]
    for index, points in enumerate((25, 1_000, 12_500, 75)):
        reversal = {"orderId": order_id, "reversalReferenceNumber": f"R-{index}", "pointsToReverse": points}
        assert api.post("/v1/apac/rewards/redemption/reversals", json=reversal).status_code == 200
        with app.app_context():
            redemption = db.session.scalar(sa.select(Redemption).where(Redemption.order_id == order_id))
            summed = db.session.scalar(
                sa.select(sa.func.sum(RedemptionReversal.amount_cents)).where(
                    RedemptionReversal.redemption_id == redemption.id
                )
            )
            assert redemptions.amount_reversed_so_far(redemption) == summed


def test_the_suite_runs_on_the_database_test_database_names(app):
    """TEST_DATABASE=postgresql puts every test's sandbox on PostgreSQL (the suite's database), else SQLite."""
    from testing import postgres

    with app.app_context():
        assert db.engine.dialect.name == postgres.test_database()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_starts_from_the_seed_with_an_empty_request_log(app, client, round_):
    """Between tests the database is emptied and re-seeded: the first round's logged call is gone, ids from 1."""
    from issuer_sandbox.models import Cardholder

    with app.app_context():
        ids = db.session.scalars(sa.select(Cardholder.id).order_by(Cardholder.id)).all()
        assert ids and ids == list(range(1, len(ids) + 1))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RequestLogEntry)) == 0
    client.get("/gcb/api/v1/cards/nothing")  # one logged call
    request_log.writer(app).flush()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RequestLogEntry)) == 1


def test_a_prebuilt_statement_stores_and_reads_exactly_what_sqlalchemy_would(app):
    """Prebuilt's driver-SQL path binds through the columns' types: the stored text of a datetime is SQLAlchemy's."""
    from issuer_sandbox.models import CardStatementLine

    lines = CardStatementLine.__table__
    insert = sa.insert(lines).returning(lines.c.id)
    columns = ("card_id", "kind", "amount_cents", "currency_code", "description", "merchant_name", "reference")
    prebuilt = database.Prebuilt(insert, (*columns, "transaction_date", "posting_date"))
    at = datetime(2026, 12, 3, 9, 0, 0)  # no microseconds: the driver's own adapter would write them differently
    row = {
        "card_id": 1,
        "kind": "POINTS_CREDIT",
        "amount_cents": -100,
        "currency_code": "HKD",
        "description": "Prebuilt",
        "merchant_name": "",
        "reference": "R-1",
        "transaction_date": at,
        "posting_date": at.date(),
    }
    with app.app_context():
        connection = database.core_connection()
        fast_id = prebuilt.execute(connection, row).scalar_one()
        usual_id = connection.execute(insert, row).scalar_one()
        stored = connection.execute(
            sa.select(sa.cast(lines.c.transaction_date, sa.String), sa.cast(lines.c.posting_date, sa.String))
            .where(lines.c.id.in_([fast_id, usual_id]))
            .order_by(lines.c.id)
        ).all()
        dialect = db.engine.dialect.name
        planned = prebuilt._plans[dialect] is not None
        # Other columns than it was built for: the statement goes through Connection.execute, as written.
        short = {name: value for name, value in row.items() if name != "merchant_name"}
        short_id = prebuilt.execute(connection, short).scalar_one()
        merchant = connection.execute(sa.select(lines.c.merchant_name).where(lines.c.id == short_id)).scalar_one()
        db.session.rollback()
    assert stored[0] == stored[1]
    assert planned  # by position on SQLite, by name on PostgreSQL: both run as driver SQL
    assert merchant == ""


def test_a_prebuilt_select_whose_columns_convert_values_is_left_to_sqlalchemy(app):
    from issuer_sandbox.models import PartnerClient

    partners = PartnerClient.__table__
    prebuilt = database.Prebuilt(sa.select(partners.c.created_at).where(partners.c.id == sa.bindparam("id")))
    with app.app_context():
        created = prebuilt.run({"id": 1}).scalar_one()
        db.session.rollback()
        dialect = db.engine.dialect.name
        planned = prebuilt._plans[dialect] is not None
    # SQLite's DateTime type reads its text back into a datetime: SQLAlchemy runs that statement. psycopg
    # returns a datetime itself (the type converts nothing), so PostgreSQL's runs as driver SQL.
    assert planned == (dialect == "postgresql")
    assert isinstance(created, datetime)


def test_the_core_connection_is_the_sessions_for_its_transaction_and_asked_again_for_the_next(app):
    with app.app_context():
        first = database.core_connection()
        assert database.core_connection() is first
        assert first is db.session.connection()
        db.session.rollback()
        assert first.closed  # the transaction ended: the session gave its connection back
        second = database.core_connection()
        assert not second.closed and second is db.session.connection()
        with db.session.begin_nested():  # a savepoint runs on the same connection
            assert database.core_connection() is second
        db.session.commit()
        assert database.core_connection() is not second
        db.session.rollback()


@pytest.mark.sqlite_only(reason="its UPDATE binds a column's own name, which PostgreSQL's compiler refuses")
def test_a_prebuilt_statement_runs_on_a_driver_cursor_with_the_engines_events_and_named_rows(app):
    """One set of parameters: no execution context, yet the statement events fire (statement counts, the
    tests' recorders) and the rows answer by column name as SQLAlchemy's rows do."""
    from sqlalchemy.exc import IntegrityError, MultipleResultsFound, NoResultFound

    from issuer_sandbox.models import Card

    cards = Card.__table__
    by_id = database.Prebuilt(
        sa.select(cards.c.id.label("card_id"), cards.c.number).where(cards.c.id == sa.bindparam("id"))
    )
    every = database.Prebuilt(sa.select(cards.c.id).where(cards.c.id > sa.bindparam("above")).order_by(cards.c.id))
    duplicate = database.Prebuilt(
        sa.update(cards).values(number=sa.bindparam("number")).where(cards.c.id == sa.bindparam("id"))
    )
    seen = []

    def record(_conn, _cursor, statement, _params, context, executemany):
        seen.append((statement.split()[0] + (" many" if executemany else ""), context))

    with app.app_context():
        expected = db.session.execute(sa.select(cards.c.id, cards.c.number).order_by(cards.c.id)).all()
        assert len(expected) >= 2
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            row = by_id.run({"id": expected[0].id}).one()
            missing = by_id.run({"id": -1})
            several = every.run({"above": 0})
            with pytest.raises(IntegrityError):  # the driver's error, wrapped as SQLAlchemy wraps it
                duplicate.run({"number": expected[1].number, "id": expected[0].id})
            db.session.rollback()
            renumbered = [{"number": f"{card.number}0", "id": card.id} for card in expected[:2]]
            many = duplicate.run(renumbered)  # executemany, on a driver cursor too
            numbers = db.session.execute(sa.select(cards.c.number).where(cards.c.id.in_([1, 2]))).scalars().all()
            with pytest.raises(IntegrityError):
                duplicate.run([{"number": renumbered[1]["number"], "id": expected[0].id}] * 2)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
            db.session.rollback()
    assert isinstance(row, tuple)
    assert (row.card_id, row.number) == tuple(expected[0]) and row[0] == expected[0].id
    assert missing.first() is None and missing.scalar_one_or_none() is None
    with pytest.raises(NoResultFound):
        missing.one()
    assert [found.id for found in several.all()] == [card.id for card in expected]
    with pytest.raises(MultipleResultsFound):
        several.scalar_one()
    assert many.rowcount == 2 and sorted(numbers) == sorted(row["number"] for row in renumbered)
    # Each statement seen by the engine's event, none with an execution context (exec_driver_sql makes one).
    statements = [(name, context is None) for name, context in seen if not name.startswith("BEGIN")]
    assert statements == [
        ("SELECT", True),
        ("SELECT", True),
        ("SELECT", True),
        ("UPDATE", True),
        ("UPDATE many", True),
        ("SELECT", False),  # the session's own statement, for comparison
        ("UPDATE many", True),
    ]
