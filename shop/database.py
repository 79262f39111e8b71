"""Engine set-up that makes SQLite behave for money too: every transaction takes the write lock up front."""

from sqlalchemy import event
from sqlalchemy.engine import Engine


def configure_engine(engine: Engine) -> None:
    """On SQLite, begin every transaction with BEGIN IMMEDIATE so two writers can never interleave.

    pysqlite's own transaction handling defers the lock until the first write, which lets two
    transactions both read a balance before either writes it; emitting BEGIN IMMEDIATE ourselves
    serialises writers inside the database, as a row lock does on PostgreSQL.

    The price is that every transaction, reads included, holds the one write lock until it ends, so the
    rule that goes with it: never keep a transaction open while waiting on anything slow, above all the
    issuer (order_service and pwp commit their intent and end the transaction before each call; the
    app's issuer client checks this before every request). Reads stay IMMEDIATE on purpose: most request
    paths read and then write in one transaction (attempt counters, order status), and a deferred WAL
    transaction that upgrades after another writer committed fails at once with SQLITE_BUSY instead of
    waiting, so the gain (no lock for lock-free reads that last milliseconds) is not worth those errors.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
