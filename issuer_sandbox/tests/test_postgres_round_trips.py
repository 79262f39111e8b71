"""PostgreSQL: the round trips each partner call costs, the pool's pings, and which commits wait for the disk.

Every statement on PostgreSQL is a round trip to another process on the same two cores, and a commit that
wrote waits for the WAL's fsync (~1.6 ms on the bench's disk). The calls' reads run in autocommit (no BEGIN,
no ROLLBACK, so no DEALLOCATE ALL), a pooled connection is pinged only after it waited in the pool, and the
request log's batches commit without waiting for the disk while money transactions still do.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy import event

from issuer_sandbox import database, request_log
from issuer_sandbox.extensions import db

from .conftest import PartnerApi, close_app, make_app
from .redemption_support import balance_path, make_link, partner_api, redeem_path, redemption_body

pytestmark = pytest.mark.postgres

IDLE = psycopg.pq.TransactionStatus.IDLE


@pytest.fixture
def pg_app(fresh_postgres_url):
    """The seeded sandbox on a fresh PostgreSQL database, with the app's own engine options (no pre-ping)."""
    app = make_app(fresh_postgres_url, REQUEST_LOG_FLUSH_MS=3_600_000)  # only explicit flushes write the log
    yield app
    close_app(app)


@contextmanager
def recorded_statements(app, probe=None):
    """Each statement the engine runs, with the transaction status its connection is in right after it.

    ``probe(cursor)``, if given, is run on the statement's own driver connection after the statement and its
    answer is recorded too (a ``SHOW`` inside the statement's transaction, for instance).
    """
    records: list[tuple[str, object, object]] = []
    with app.app_context():
        engine = db.engine

    def after(_conn, cursor, statement, _params, _context, _executemany):
        answer = probe(cursor) if probe is not None else None
        records.append((" ".join(statement.split()), cursor.connection.info.transaction_status, answer))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield records
    finally:
        event.remove(engine, "after_cursor_execute", after)


@pytest.fixture
def pings(pg_app, monkeypatch):
    """How many times the pool pinged a connection (``do_ping`` of the app's dialect, counted)."""
    with pg_app.app_context():
        dialect = db.engine.dialect
    count = [0]
    ping = dialect.do_ping

    def counted(dbapi_connection):
        count[0] += 1
        return ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return count


def test_a_balance_read_is_two_statements_in_autocommit_and_no_ping(pg_app, pings):
    api = partner_api(pg_app)
    link = make_link(pg_app)
    assert api.get(balance_path(link)).status_code == 200  # warm: the pool has its connection
    pings[0] = 0
    with recorded_statements(pg_app) as statements:
        response = api.get(balance_path(link))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(statements) == 2, statements  # the call's context, then the balance
    # IDLE right after a SELECT: no transaction was begun, so no BEGIN and no ROLLBACK went to the server.
    assert all(status == IDLE for _sql, status, _ in statements), statements
    assert pings[0] == 0


def test_a_token_call_is_one_statement_in_autocommit(pg_app, pings):
    api = PartnerApi(pg_app.test_client())
    api.token()
    api._token = None
    pings[0] = 0
    with recorded_statements(pg_app) as statements:
        api.token()
    assert len(statements) == 1, statements  # the context read also reads the client the Basic header names
    assert statements[0][1] == IDLE, statements
    assert pings[0] == 0


def test_a_redemption_reads_its_context_in_autocommit_and_moves_the_money_in_one_transaction(pg_app):
    api = partner_api(pg_app)
    link = make_link(pg_app)
    assert api.post(redeem_path(link), json=redemption_body(reference="HM-WARM")).status_code == 200
    with recorded_statements(pg_app) as statements:
        response = api.post(redeem_path(link), json=redemption_body(reference="HM-RT"))
    assert response.status_code == 200, response.get_data(as_text=True)
    context, *money = statements
    assert context[1] == IDLE, context  # the context read: autocommit
    assert money and all(status != IDLE for _sql, status, _ in money), money  # the rest inside one transaction
    assert any(sql.startswith("INSERT INTO redemptions") for sql, _, _ in money), money


def test_a_connection_is_pinged_only_once_it_waited_in_the_pool(pg_app, pings, monkeypatch):
    api = partner_api(pg_app)
    link = make_link(pg_app)
    assert api.get(balance_path(link)).status_code == 200
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pings[0] = 0
    assert api.get(balance_path(link)).status_code == 200
    assert pings[0] == 0
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # every connection has waited long enough
    assert api.get(balance_path(link)).status_code == 200
    assert pings[0] == 1  # the call checks out one connection


def test_a_connection_the_server_closed_while_it_waited_in_the_pool_is_replaced_before_use(pg_app, monkeypatch):
    api = partner_api(pg_app)
    link = make_link(pg_app)
    assert api.get(balance_path(link)).status_code == 200
    with pg_app.app_context():
        url = db.engine.url
        with db.engine.connect() as connection:
            pooled_pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        db.session.remove()
    # The server ends every backend of the app's database (as a restart would): the pool does not know.
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        ended = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
    admin.dispose()
    assert ended >= 1
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    errors = []
    with pg_app.app_context():
        engine = db.engine

    def failed(context) -> None:
        errors.append(context.original_exception)

    event.listen(engine, "handle_error", failed)
    try:
        response = api.get(balance_path(link))
    finally:
        event.remove(engine, "handle_error", failed)
    assert response.status_code == 200, response.get_data(as_text=True)
    # No statement met the dead connection (the call would survive a failed context read, without its faults).
    assert errors == []
    assert response.json["availablePointBalance"] >= 0
    with pg_app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pooled_pid


def _synchronous_commit(cursor) -> str:
    return cursor.connection.execute("SHOW synchronous_commit").fetchone()[0]


def _writes(statements) -> dict[str, set[str]]:
    """The synchronous_commit each INSERT or UPDATE ran under, by its first three words."""
    settings: dict[str, set[str]] = {}
    for sql, _status, setting in statements:
        if sql.startswith(("INSERT", "UPDATE")):
            settings.setdefault(" ".join(sql.split()[:3]), set()).add(setting)
    return settings


def test_request_log_batches_commit_without_waiting_for_the_disk_and_money_transactions_wait(pg_app):
    api = partner_api(pg_app)
    link = make_link(pg_app)
    writer = request_log.writer(pg_app)
    assert api.get(balance_path(link)).status_code == 200
    with recorded_statements(pg_app, probe=_synchronous_commit) as new_rows:
        assert writer.flush() == 1  # the balance read's row: a new row, inserted
    with recorded_statements(pg_app, probe=_synchronous_commit) as money:
        assert api.post(redeem_path(link), json=redemption_body(reference="HM-SYNC")).status_code == 200
    with recorded_statements(pg_app, probe=_synchronous_commit) as completion:
        assert writer.flush() == 1  # the redemption's row: committed with its money, completed here
    assert _writes(new_rows) == {"INSERT INTO request_log": {"off"}}, new_rows
    assert _writes(completion) == {"UPDATE request_log SET": {"off"}}, completion
    # The redemption's own transaction, its log row included, waits for the disk as before.
    money_writes = _writes(money)
    assert {"INSERT INTO redemptions", "INSERT INTO request_log", "UPDATE ledger_accounts SET"} <= set(money_writes)
    assert set().union(*money_writes.values()) == {"on"}, money


def test_the_setting_lasts_only_for_the_transaction_that_asked_for_it(pg_app):
    with pg_app.app_context(), db.engine.connect() as connection:
        session = sa.orm.Session(bind=connection)  # one connection for both transactions
        try:
            database.commit_without_waiting_for_disk(session)
            assert session.execute(SHOW_SYNCHRONOUS_COMMIT).scalar_one() == "off"
            session.commit()
            assert session.execute(SHOW_SYNCHRONOUS_COMMIT).scalar_one() == "on"
        finally:
            session.close()


SHOW_SYNCHRONOUS_COMMIT = sa.text("SHOW synchronous_commit")


def test_a_prebuilt_statement_runs_on_a_driver_cursor_by_name_with_the_engines_events(pg_app):
    """On PostgreSQL too, one set of parameters skips SQLAlchemy's execution context; rows answer by name,
    driver errors come wrapped as SQLAlchemy's, and many sets go through SQLAlchemy's executemany."""
    from sqlalchemy.exc import IntegrityError

    from issuer_sandbox.models import Card

    cards = Card.__table__
    by_id = database.Prebuilt(
        sa.select(cards.c.id.label("card_id"), cards.c.number).where(cards.c.id == sa.bindparam("card"))
    )
    renumber = database.Prebuilt(
        sa.update(cards).values(number=sa.bindparam("new_number")).where(cards.c.id == sa.bindparam("card"))
    )
    seen = []

    def record(_conn, _cursor, statement, _params, context, executemany):
        seen.append((statement.split()[0] + (" many" if executemany else ""), context is None))

    with pg_app.app_context():
        first, second = db.session.execute(sa.select(cards.c.id, cards.c.number).order_by(cards.c.id).limit(2)).all()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            connection = database.core_connection()
            row = by_id.execute(connection, {"card": first.id}).one()
            assert (row.card_id, row.number) == (first.id, first.number)
            assert by_id._plans["postgresql"] is not None
            with pytest.raises(IntegrityError):  # cards.number is unique
                with connection.begin_nested():
                    renumber.execute(connection, {"new_number": second.number, "card": first.id})
            result = renumber.execute(
                connection, [{"new_number": "X1", "card": first.id}, {"new_number": "X2", "card": second.id}]
            )
            assert result.rowcount == 2
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        db.session.rollback()
    assert ("SELECT", True) in seen  # the driver cursor: no execution context
    assert ("UPDATE", True) in seen
    assert ("UPDATE many", False) in seen  # SQLAlchemy's executemany, with its context
