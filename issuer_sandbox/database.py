"""Engine set-up: SQLite behaves for money (writers take the write lock up front), readers never wait on it.

On SQLite a transaction that will write begins with ``BEGIN IMMEDIATE``: pysqlite's own handling defers the
lock until the first write, which would let two transactions both read a balance before either writes it.
Taking the lock up front serialises writers inside the database, as a row lock does on PostgreSQL.

A transaction that only reads begins with a plain ``BEGIN``: in WAL mode it reads a snapshot and never
queues behind a writer. Whether the next transaction writes is the *write intent* of the current context:
on by default (commands, tests, background work), off for the requests of safe HTTP methods (GET, HEAD,
OPTIONS), whose handlers only read. A read-intent block that must write after all wraps the write in
``writing()``, which starts a fresh transaction with the intent on.

``synchronous=NORMAL`` in WAL mode: a commit no longer waits for an fsync of the WAL, only the checkpoint
does. A committed transaction survives a killed process (the WAL is in the OS page cache); what it trades
is the last few commits before a power cut or a kernel crash, which may roll back (never corrupt).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_write_intent: ContextVar[bool] = ContextVar("issuer_write_intent", default=True)


def write_intent() -> bool:
    """Whether the next transaction of this context takes SQLite's write lock at BEGIN."""
    return _write_intent.get()


@contextmanager
def writing() -> Iterator[None]:
    """Inside a read-intent request, run a block whose transactions will write (the caller ends them)."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


@contextmanager
def reading() -> Iterator[None]:
    """Run a block whose transactions only read, whatever the request's method (the caller ends them)."""
    token = _write_intent.set(False)
    try:
        yield
    finally:
        _write_intent.reset(token)


def configure_engine(engine: Engine) -> None:
    """On SQLite: WAL, NORMAL sync, foreign keys, and BEGIN IMMEDIATE only for transactions that will write."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def engine_options(database_url: str) -> dict:
    """Pool settings: a pre-ping only where a server can close connections (not for a SQLite file)."""
    if database_url.startswith("sqlite"):
        return {}
    return {"pool_pre_ping": True}


def install_request_intent(app: Flask) -> None:
    """Requests of safe methods only read: their transactions begin without SQLite's write lock."""

    @app.before_request
    def _read_intent_for_safe_methods() -> None:
        g.write_intent_token = _write_intent.set(request.method not in SAFE_METHODS)

    @app.teardown_request
    def _restore_write_intent(_error: BaseException | None) -> None:
        token = g.pop("write_intent_token", None)
        if token is not None:
            _write_intent.reset(token)
