"""Engine set-up: SQLite behaves for money (writers take the write lock up front), readers never wait on it.

On SQLite a transaction that will write begins with ``BEGIN IMMEDIATE``: pysqlite's own handling defers the
lock until the first write, which would let two transactions both read a balance before either writes it.
Taking the lock up front serialises writers inside the database, as a row lock does on PostgreSQL.

A transaction that only reads begins with a plain ``BEGIN``: in WAL mode it reads a snapshot and never
queues behind a writer. Whether the next transaction writes is the *write intent* of the current context:
on by default (commands, tests, background work), off for the requests of safe HTTP methods (GET, HEAD,
OPTIONS) and of the few other endpoints whose handlers only read (READ_ONLY_ENDPOINTS). A read-intent block
that must write after all wraps the write in ``writing()``, which starts a fresh transaction with the intent on.

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
import time
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa
import sqlalchemy.orm
from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, MultipleResultsFound, NoResultFound

from .extensions import db

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


_request_read_connection: ContextVar[sa.Connection | None] = ContextVar("issuer_request_read_connection", default=None)


def read_connection() -> sa.Connection:
    """A pooled Core connection in a read transaction, outside the Session; the caller rolls back and closes it.

    On PostgreSQL the connection runs in autocommit: each statement is a transaction of its own, with no
    BEGIN and no ROLLBACK round trip around it (three round trips for a one-statement read became one). At
    READ COMMITTED, PostgreSQL's default and this app's, a statement inside a transaction reads a snapshot
    of its own too, so a read sees exactly what it saw in a transaction; such a connection must only read
    (nothing it wrote could be rolled back). The ROLLBACK psycopg sent also made it drop every prepared
    statement of the connection (DEALLOCATE ALL, one more round trip), so no statement stayed prepared.
    ``connection.begin()`` is still called, so the code above is the same on both databases: it costs no
    statement in autocommit, and SQLite's read transaction is unchanged (a plain BEGIN, a WAL snapshot).
    """
    connection = db.engine.connect()
    try:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")  # reset when it goes back to the pool
        connection.begin()
    except BaseException:
        connection.close()
        raise
    return connection


def begin_request_read() -> sa.Connection:
    """A pooled Core connection in a read transaction for the rest of this request's reads, outside the Session.

    For a call whose context and handler only read, through prebuilt statements (the balance read): an ORM
    Session transaction set up and rolled back around them cost more than the two statements. Until
    ``end_request_read``, ``core_connection`` answers this connection while the write intent is off; a
    block under ``writing()`` still gets the Session's. Call ``end_request_read`` (it rolls back) before
    the request ends. On PostgreSQL it runs in autocommit (``read_connection``).
    """
    connection = read_connection()
    _request_read_connection.set(connection)
    return connection


def end_request_read() -> None:
    """Roll back and give back the request's read connection, if it has one (a no-op otherwise)."""
    connection = _request_read_connection.get()
    if connection is None:
        return
    _request_read_connection.set(None)
    try:
        connection.rollback()
    finally:
        connection.close()


def core_connection() -> sa.Connection:
    """The session's connection in its current transaction, for running prebuilt Core statements on.

    A statement run through the Session pays for the ORM's execution path (bind resolution, events, the
    transaction look-up) every time, as much again as SQLite takes to run it: a money call gets the
    connection once and runs its statements on it. Pending ORM changes are flushed first, as the
    session's autoflush would before a statement of its own. The connection is remembered for the
    session's transaction (asking the session for it again costs as much as a statement's ORM overhead);
    the next transaction asks again. In a request that began a read on its own connection
    (``begin_request_read``), that connection while the write intent is off.
    """
    read_connection = _request_read_connection.get()
    if read_connection is not None and not _write_intent.get():
        return read_connection
    session = db.session()
    session.flush()
    transaction = session.get_transaction()
    remembered = session.info.get(_CORE_CONNECTION)
    if transaction is not None and remembered is not None and remembered[0] is transaction:
        return remembered[1]
    connection = session.connection()
    # The transaction is held by the tuple, so no later transaction can be mistaken for it.
    session.info[_CORE_CONNECTION] = (session.get_transaction(), connection)
    return connection


_CORE_CONNECTION = "issuer.core_connection"


class Prebuilt:
    """A Core statement built once, compiled once per dialect and run as driver SQL on the hot path.

    ``Connection.execute`` of a Core statement looks its compiled form up, builds an execution context and
    processes every parameter on each call: on the money path that costs more than SQLite takes to run
    the statement. Here the SQL text and the way to bind each parameter (its type's bind processor, or the
    literal value the statement was built with) are worked out once per dialect; each call binds a tuple
    and runs ``exec_driver_sql``, which fires the same engine events (statement counts, the writer lock)
    and wraps driver errors the same way (IntegrityError). A statement the shortcut cannot run exactly as
    SQLAlchemy would (column defaults to compute, result columns whose type converts values, bind names the
    dialect escapes, an INSERT called with other columns than it was built for) goes through
    ``Connection.execute`` unchanged.

    Where the driver binds by name (PostgreSQL's psycopg) a call binds a dict instead of a tuple, and the SQL
    text is SQLAlchemy's own, its ``::TYPE`` casts included; there SQLAlchemy's execution context and result
    cost 60-120 us of CPU a statement (in-process, against the driver cursor's), the balance read runs two
    such statements and a redemption about ten. Many sets of parameters by name still go through
    ``Connection.execute``, SQLAlchemy's own executemany.

    One set of parameters does not even go through ``exec_driver_sql``: its execution context and result
    object cost more than SQLite takes to run the statement (about 40 us a statement, a redemption runs
    ten). It runs on a driver cursor through ``Connection._cursor_execute``, the path SQLAlchemy's own
    dialects use for side statements: the same ``before_cursor_execute``/``after_cursor_execute`` events,
    the same wrapping of driver errors. Its rows are read at once into a ``DriverResult`` of named tuples
    whose class is made once per statement; many sets of parameters (executemany) go the same way.
    """

    def __init__(self, statement: sa.Executable, columns: tuple[str, ...] | None = None) -> None:
        self.statement = statement
        self.columns = frozenset(columns) if columns is not None else None  # an INSERT's columns, in any order
        self._column_keys = list(columns) if columns is not None else None
        self._plans: dict[str, tuple | None] = {}

    def execute(self, connection: sa.Connection, params: dict | list[dict]) -> sa.CursorResult:
        """Run with one set of parameters, or many (executemany) given as a list."""
        plan = self._plans.get(connection.dialect.name, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = self._plans[connection.dialect.name] = self._plan(connection.dialect)
        rows = params if isinstance(params, list) else [params]
        if plan is None or (self.columns is not None and any(self.columns != row.keys() for row in rows)):
            return connection.execute(self.statement, params)
        sql, names, literals, processors, row_class, positional = plan
        if not positional and isinstance(params, list):
            return connection.execute(self.statement, params)  # many sets by name: SQLAlchemy's own executemany
        bound = []
        for row in rows:
            source = {**literals, **row} if literals else row  # a missing parameter raises KeyError
            values = [source[name] for name in names]
            for index, processor in processors:
                if values[index] is not None:
                    values[index] = processor(values[index])
            bound.append(tuple(values) if positional else dict(zip(names, values, strict=True)))
        if not connection.in_transaction():
            return connection.exec_driver_sql(sql, bound if isinstance(params, list) else bound[0])
        cursor = connection.connection.cursor()
        try:
            if isinstance(params, list):
                _cursor_executemany(connection, cursor, sql, bound)
                return DriverResult([], None, cursor.rowcount)
            connection._cursor_execute(cursor, sql, bound[0])
            return DriverResult(cursor.fetchall() if row_class is not None else [], row_class, cursor.rowcount)
        finally:
            cursor.close()

    def run(self, params: dict | list[dict]) -> sa.CursorResult:
        """``execute`` on the session's connection (``core_connection``)."""
        return self.execute(core_connection(), params)

    def _plan(self, dialect: sa.Dialect) -> tuple | None:
        compiled = self.statement.compile(dialect=dialect, column_keys=self._column_keys)
        if compiled.prefetch or getattr(compiled, "insert_prefetch", None):
            return None
        if compiled.positional:
            names = tuple(compiled.positiontup)
        elif compiled.escaped_bind_names:  # the driver would see other names than the binds'
            return None
        else:  # by name (PostgreSQL's psycopg): each bind the SQL text names, once
            names = tuple(dict.fromkeys(compiled.bind_names.values()))
        for column in compiled._result_columns:  # (key, name, objects, type)
            if column[3].dialect_impl(dialect).result_processor(dialect, None) is not None:
                return None
        keys = [column[0] for column in compiled._result_columns]
        try:
            row_class = namedtuple("DriverRow", keys) if keys else None  # noqa: PYI024 - made per statement
        except ValueError:  # a key that is no identifier (or twice the same): SQLAlchemy's own rows then
            return None
        literals, processors = {}, []
        for index, name in enumerate(names):
            bind = compiled.binds[name]
            if bind.callable is not None or bind.expanding or bind.literal_execute:
                return None
            if not bind.required:
                literals[name] = bind.value  # a value the statement was built with, such as a literal's
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors.append((index, processor))
        return compiled.string, names, literals, tuple(processors), row_class, compiled.positional


_UNPLANNED = object()


def _cursor_executemany(connection: sa.Connection, cursor: object, sql: str, rows: list[tuple]) -> None:
    """``Connection._cursor_execute`` for many sets of parameters: the statement events (with executemany
    true), the dialect's executemany, driver errors wrapped as SQLAlchemy wraps them."""
    try:
        has_events = connection._has_events or connection.engine._has_events
        if has_events:
            for listener in connection.dispatch.before_cursor_execute:
                sql, rows = listener(connection, cursor, sql, rows, None, True)
        for listener in () if not connection.dialect._has_events else connection.dialect.dispatch.do_executemany:
            if listener(cursor, sql, rows, None):
                break
        else:
            connection.dialect.do_executemany(cursor, sql, rows, None)
        if has_events:
            connection.dispatch.after_cursor_execute(connection, cursor, sql, rows, None, True)
    except BaseException as error:
        connection._handle_dbapi_exception(error, sql, rows, cursor, None)


class DriverResult:
    """The rows of a statement run as driver SQL on one cursor (``Prebuilt``), read at once, as named tuples.

    It answers what the money path asks of a ``CursorResult``: ``one``, ``first``, ``all``, ``scalar_one``,
    ``scalar_one_or_none``, ``scalar`` and ``rowcount``.
    """

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple], row_class: type | None, rowcount: int) -> None:
        self._rows = [row_class._make(row) for row in rows] if row_class is not None else rows
        self.rowcount = rowcount

    def all(self) -> list:
        return list(self._rows)

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0]

    def one_or_none(self):
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self._rows[0] if self._rows else None

    def scalar_one(self):
        return self.one()[0]

    def scalar_one_or_none(self):
        row = self.one_or_none()
        return row[0] if row is not None else None

    def scalar(self):
        return self._rows[0][0] if self._rows else None


_ASYNCHRONOUS_COMMIT = sa.text("SET LOCAL synchronous_commit = off")


def commit_without_waiting_for_disk(session: sa.orm.Session) -> None:
    """On PostgreSQL, let the session's current transaction commit without waiting for its WAL to reach disk.

    ``SET LOCAL synchronous_commit = off``, for this one transaction: its COMMIT returns once the commit
    record is in PostgreSQL's WAL buffers, and the WAL writer writes and fsyncs it within a few hundred
    milliseconds (3 x wal_writer_delay at worst), instead of the ~1.6 ms fsync of this disk in the COMMIT.
    What it trades: on a crash of the PostgreSQL server itself (not a clean stop, not a crash of this app)
    the last few hundred milliseconds of such transactions may be lost, never half-written and never out
    of order (a later synchronous commit flushes everything before it). Only for rows the contract lets go
    on such a crash: the request log's batches. Money transactions never call it and keep
    ``synchronous_commit`` on. A no-op on SQLite (synchronous=NORMAL for every transaction there).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ASYNCHRONOUS_COMMIT)


def lock_precedes_snapshot() -> bool:
    """Whether a write transaction holds its lock before it reads anything (SQLite's BEGIN IMMEDIATE).

    Then one statement can take the lock and read what it protects. On PostgreSQL a statement that waited
    for a row lock still reads the other tables as they were when it started: whatever a twin committed
    while we waited is only seen by a later statement.
    """
    return db.engine.dialect.name == "sqlite"


def configure_engine(engine: Engine) -> WalCheckpoints | None:
    """On SQLite: WAL, NORMAL sync, foreign keys, and BEGIN IMMEDIATE only for transactions that will write.
    On a server database: a connection that waited in the pool is pinged before use (``ping_after_idle``).

    Returns the engine's WAL checkpoints, for a server worker to start (None on another database).
    """
    if engine.dialect.name != "sqlite":
        ping_after_idle(engine)
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
        # On a driver cursor, as Prebuilt runs its statements: the statement events still see the BEGIN.
        cursor = connection.connection.cursor()
        try:
            if _write_intent.get():
                writers.enter(connection.connection.dbapi_connection)
                connection._cursor_execute(cursor, "BEGIN IMMEDIATE", ())
            else:
                connection._cursor_execute(cursor, "BEGIN", ())
        finally:
            cursor.close()

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


PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "issuer.idle_since"


def ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it waited in the pool PING_AFTER_IDLE_SECONDS or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: on PostgreSQL one more round trip per
    checkout, and a redemption checks out two connections (its context read and its money transaction),
    so under load a quarter of a balance read's round trips were pings. A connection the server closed
    (a restart, an idle timeout, a terminated backend) is almost always one that sat unused in the pool:
    after a second there it is pinged as before, and one that does not answer is replaced before the
    caller sees it (a DisconnectionError from a checkout handler makes the pool reconnect). A connection
    handed on within the second is not pinged: should the server have gone in that second, the statement
    fails with the disconnect error, and SQLAlchemy then invalidates the pool, so the next checkouts
    reconnect.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)  # a fresh connection has none: it is not pinged
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError("the pooled connection did not answer a ping") from error
            raise


# Endpoints of unsafe methods whose handlers only read: the token call (its token is signed, never stored).
READ_ONLY_ENDPOINTS = frozenset({"token.issue_token"})


def install_request_intent(app: Flask) -> None:
    """Requests of safe methods, and of READ_ONLY_ENDPOINTS, only read: no transaction of theirs takes
    SQLite's write lock, and the call's context and the handler share one read transaction."""

    @app.before_request
    def _read_intent_for_safe_methods() -> None:
        current_request = request._get_current_object()  # the proxy looked up once: this runs on every call
        writes = current_request.method not in SAFE_METHODS and current_request.endpoint not in READ_ONLY_ENDPOINTS
        g.write_intent_token = _write_intent.set(writes)

    @app.teardown_request
    def _restore_write_intent(_error: BaseException | None) -> None:
        token = g.pop("write_intent_token", None)
        if token is not None:
            _write_intent.reset(token)


# The initial migration: the schema that create_all() made before the app had migrations.
BASELINE_REVISION = "71e46dc4db90"
BASELINE_TABLES = frozenset(
    (
        "access_tokens",
        "card_statement_lines",
        "cardholders",
        "cards",
        "fault_rules",
        "ledger_accounts",
        "ledger_entries",
        "ledger_transactions",
        "partner_clients",
        "payments",
        "programmes",
        "redemption_reversals",
        "redemptions",
        "refunds",
        "request_log",
        "reward_links",
        "sandbox_settings",
        "sms_messages",
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
