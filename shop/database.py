"""Engine set-up: SQLite behaves for money (writers take the write lock up front), page reads never wait on it.

On SQLite a transaction that will write begins with ``BEGIN IMMEDIATE``: pysqlite's own handling defers the
lock until the first write, which would let two transactions both read a balance before either writes it.
Taking the lock up front serialises writers inside the database, as a row lock does on PostgreSQL.

A transaction that only reads begins with a plain ``BEGIN``: in WAL mode it reads a snapshot and never
queues behind a writer. Whether the next transaction writes is the *write intent* of the current context:
on by default (commands, tests, every view that may write), off for GET requests to views marked
``@read_only`` (the catalogue, search, the cart, order history, the sign-in and sign-up forms). Some GET
pages of the shop do write (an order page settles points left unconfirmed, the points page records its
events), so the shop marks what only reads rather than trusting the method. The rule that goes with
BEGIN IMMEDIATE stays: never keep a write transaction open while waiting on the issuer (every bank call goes
through orders/bank_call.call_bank, which commits the intent first; the issuer client checks it).

Writers queue in order, not by polling: SQLite's busy handler retries a locked BEGIN IMMEDIATE after
sleeps of up to 100 ms, so under load a writer could wait a second while others took the lock ahead of it.
So a write transaction first takes this process's writer lock and an exclusive ``flock`` on a file beside
the database (the kernel queues the other processes), then BEGIN IMMEDIATE; both are let go as soon as the
transaction commits or rolls back.

``synchronous=NORMAL`` in WAL mode: a commit no longer waits for an fsync of the WAL, only the checkpoint
does. A committed transaction survives a killed process (the WAL is in the OS page cache); what it trades
is the last few commits before a power cut or a kernel crash, which may roll back (never corrupt).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask, before_render_template, current_app, g, request, template_rendered
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db

F = TypeVar("F", bound=Callable)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_write_intent: ContextVar[bool] = ContextVar("shop_write_intent", default=True)


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


def configure_engine(engine: Engine) -> WalCheckpoints | None:
    """On SQLite: WAL, NORMAL sync, foreign keys, and BEGIN IMMEDIATE only for transactions that will write.

    Returns the engine's WAL checkpoints, for a server worker to start (None on another database).
    """
    if engine.dialect.name != "sqlite":
        return None
    checkpoints = WalCheckpoints(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        if checkpoints.running:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    writers = WriterQueue(engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        if _write_intent.get():
            writers.enter(connection.connection.dbapi_connection)
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection) -> None:
        try:
            commit(dbapi_connection)
        finally:
            writers.leave(dbapi_connection)

    def do_rollback(dbapi_connection) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            writers.leave(dbapi_connection)

    # After the COMMIT or ROLLBACK itself (the engine's events fire before it); also on return to the pool.
    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection, _record) -> None:
        writers.leave(dbapi_connection)

    @event.listens_for(engine, "engine_disposed")
    def _on_dispose(_engine) -> None:
        writers.close()
        checkpoints.stop()

    return checkpoints


class WalCheckpoints:
    """SQLite's WAL checkpoints in a thread of the server worker's own, not in the commit that fills the WAL.

    By default the connection whose commit takes the WAL past 1,000 pages copies them into the database file
    and fsyncs it before its COMMIT returns, with the writer queue waiting behind it: under load every
    hundredth write or so took tens of milliseconds longer (issuer redemptions at 16 connections: 300-320
    req/s and p99 106-144 ms with, 370-520 req/s and p99 69-94 ms without). Started once per server worker
    (gunicorn.conf.py's post_worker_init, through ``app.extensions["worker_start"]``): connections opened after
    it have automatic checkpoints off, and a PASSIVE checkpoint, which never waits for readers or writers, runs
    every INTERVAL_SECONDS. Commands and tests keep SQLite's automatic checkpoints. Durability is unchanged: a
    committed transaction is in the WAL either way, and a checkpoint cut short by a crash is redone.
    """

    INTERVAL_SECONDS = 0.25

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        database = engine.url.database
        self.database = database if database and database != ":memory:" else None
        self.running = False
        self.last_result: tuple[int, int, int] | None = None  # (busy, WAL frames, frames checkpointed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Automatic checkpoints off for the connections to come, and the checkpoint thread running."""
        if self.database is None or self.running:
            return
        self.engine.dispose()  # the pool's connections so far were opened with automatic checkpoints on
        self.running = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.running = False
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        connection = sqlite3.connect(self.database, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.INTERVAL_SECONDS):
                try:
                    self.last_result = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    continue  # busy or briefly unavailable: the next round tries again
        finally:
            connection.close()


class WriterQueue:
    """SQLite's writers of all processes, one at a time, waiting in a queue (a lock and a file lock)."""

    WAIT_SECONDS = 30  # as busy_timeout: past it the writer goes ahead and SQLite's own locking decides

    def __init__(self, database: str | None) -> None:
        self._lock = threading.Lock()
        self._holder: object | None = None
        self._path = f"{database}.writer-lock" if database and database != ":memory:" else None
        self._fd: int | None = None
        self._pid = 0

    def enter(self, dbapi_connection: object) -> None:
        if self._path is None or not self._lock.acquire(timeout=self.WAIT_SECONDS):
            return
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except OSError:
            self._lock.release()
            return
        self._holder = dbapi_connection

    def leave(self, connection: object) -> None:
        # The dialect is handed the pool's proxy of the connection, the events the DBAPI connection itself.
        dbapi_connection = getattr(connection, "dbapi_connection", connection)
        if self._holder is None or self._holder is not dbapi_connection:
            return
        self._holder = None
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def close(self) -> None:
        """Close this process's descriptor of the lock file (the engine was disposed)."""
        if self._fd is not None and self._pid == os.getpid() and self._holder is None:
            os.close(self._fd)
        self._fd = None

    def _file(self) -> int:
        # One descriptor per process: a descriptor inherited over fork would share its lock with the parent.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


def engine_options(database_url: str) -> dict:
    """Pool settings: a pre-ping only where a server can close connections (not for a SQLite file)."""
    if database_url.startswith("sqlite"):
        return {}
    return {"pool_pre_ping": True}


def read_only(view: F) -> F:
    """Mark a view whose GET requests only read: their transactions begin without SQLite's write lock."""
    view.read_only = True  # type: ignore[attr-defined]
    return view


def install_request_intent(app: Flask) -> None:
    """GET requests to ``@read_only`` views begin their transactions without SQLite's write lock."""

    @app.before_request
    def _read_intent_for_read_only_views() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        reads_only = request.method in SAFE_METHODS and getattr(view, "read_only", False)
        g.write_intent_token = _write_intent.set(not reads_only)

    @app.teardown_request
    def _restore_write_intent(_error: BaseException | None) -> None:
        token = g.pop("write_intent_token", None)
        if token is not None:
            _write_intent.reset(token)

    with app.app_context():
        on_sqlite = db.engine.dialect.name == "sqlite"
    if on_sqlite:
        before_render_template.connect(_end_write_transaction_before_render, app)
        template_rendered.connect(_end_read_transaction_after_render, app)


def _pending_writes(session) -> bool:
    """Whether the session holds changes not yet flushed (new, changed or deleted objects)."""
    return bool(session.new or session.dirty or session.deleted)


def _settled(session) -> bool:
    """Whether the session's transaction holds nothing left to write (what a view changes, it commits)."""
    return session.in_transaction() and not _pending_writes(session)


def commit_keeping_loaded_state(session=None) -> None:
    """Commit, leaving loaded objects as they are: the page shows what the view read (or wrote) under the lock.

    For a use case's last commit, when the view then only shows what was just written (a flash, a redirect):
    with the default expiry the first attribute it reads would load the object again, in a new transaction
    that on SQLite takes the write lock. Not for a commit after which the rule reads on (use ``call_bank``,
    which re-reads the order itself).
    """
    session = session or db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _end_write_transaction_before_render(_app, template, context, **_extra) -> None:
    """A page renders without SQLite's write lock: a write transaction with nothing left to write ends first.

    A page that may write on GET (the points step records that the offer was shown, then re-locks the order
    after its balance call) or a form post's error page used to keep the lock while Jinja rendered: under load
    every other writer of both workers queued behind the rendering (the points page alone held it ~5 ms a
    request, 27 % of all the lock's time over 20 checkouts). The render's reads begin a read transaction of
    their own, ended when the page is done, and the write intent is back for whatever the view does next.
    Only the outermost render counts (the header's parts render inside the page).
    """
    depth = g.get("render_depth", 0)
    g.render_depth = depth + 1
    if depth or not _write_intent.get():
        return
    session = db.session()
    if _pending_writes(session):
        return  # something is left to write: the view's own commit (or the error handler) ends it
    if session.in_transaction():
        commit_keeping_loaded_state(session)
    # Also when the view committed already (the first points page records its offer and commits): the
    # render's reads would otherwise begin a new write transaction and hold the lock while Jinja runs.
    g.render_read_token = _write_intent.set(False)


def _end_read_transaction_after_render(_app, template, context, **_extra) -> None:
    g.render_depth = depth = g.get("render_depth", 1) - 1
    token = g.pop("render_read_token", None) if depth == 0 else None
    if token is None:
        return
    session = db.session()
    if _settled(session):
        commit_keeping_loaded_state(session)
    _write_intent.reset(token)


# The initial migration: the schema that create_all() made before the app had migrations.
BASELINE_REVISION = "7abe934cf355"
BASELINE_TABLES = frozenset(
    (
        "card_links",
        "categories",
        "order_adjustments",
        "order_lines",
        "orders",
        "products",
        "pwp_events",
        "users",
    )
)


def upgrade_schema() -> None:
    """Bring the database to the newest migration, in place: an empty one, a migrated one, or an older one.

    A database made before migrations has the baseline's tables but no ``alembic_version``: it is stamped
    at the baseline revision (its tables are that revision's), then upgraded like any other.
    """
    import flask_migrate  # here, not at import: workers serving requests never load Alembic

    tables = set(sa.inspect(db.engine).get_table_names())
    if tables and "alembic_version" not in tables:
        missing = sorted(BASELINE_TABLES - tables)
        if missing:
            raise RuntimeError(
                f"The database at {db.engine.url!r} has no alembic_version and lacks the tables "
                f"{', '.join(missing)}: it is not a database of this app. Point DATABASE_URL elsewhere."
            )
        flask_migrate.stamp(revision=BASELINE_REVISION)
    flask_migrate.upgrade()
