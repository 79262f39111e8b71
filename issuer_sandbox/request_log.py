"""The request log's writer: entries are buffered in memory and written in batches, off the request's path.

Writing each call's log row in a transaction of its own made every call, reads included, queue for
SQLite's write lock. Here a call only appends a row to this process's buffer; a background thread writes
the buffer in one transaction every ``REQUEST_LOG_FLUSH_MS`` (or sooner when it fills up), and the
process writes whatever is left when it exits cleanly (gunicorn's SIGTERM or SIGINT, Ctrl-C, the end of a
command). Readers in this process (the console and the sandbox API) flush first, so they always see their
own calls; another worker's calls appear within one flush interval. A failed write keeps the rows for the
next attempt.

Money calls (redemption, reversal, card payment and refund: the calls that commit a movement of points or
money) do not trust the buffer: ``replay_or_write`` inserts their row inside the money transaction itself,
with what is known then and ``answer_logged`` false, and the buffer later completes that row (status,
latency, response body) instead of adding one. So a worker killed with SIGKILL between its commit and its
next flush leaves the row, marked as never answered, and a rolled-back call leaves none. What a SIGKILL can
still take is the buffered rows of calls that committed nothing: reads, refusals, replays, tokens and
enrolments.

No row is lost silently. ``add`` makes each row fit its columns first: control characters (PostgreSQL
refuses NUL in text) are written as ``\\x00`` escapes and strings are cut to their column's length. If a
batch still fails, its rows are written one by one, so one bad row cannot hold back the others; a row that
fails alone is written again without its bodies, and one that cannot be written at all is logged at ERROR
with its method, path and status. Only when the database itself is unreachable are rows kept for later.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import weakref
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from .database import Prebuilt, commit_without_waiting_for_disk, core_connection, writing
from .extensions import db
from .models import RequestLogEntry

EXTENSION_KEY = "issuer_request_log"
# Past this many buffered rows a call writes the buffer itself instead of waiting for the thread.
MAX_BUFFERED_ROWS = 5_000

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # bodies may keep tab, CR and LF
_CONTROL_ON_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BODY_COLUMNS = ("request_body", "response_body")
# The database cannot be reached (or the table is missing): no row can be written now, so all are kept.
_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError)
# SQLSTATEs that say the same of every row, whatever it holds: the table (or one of its columns) is not
# there. SQLite reports a missing table as an OperationalError; PostgreSQL as a ProgrammingError.
_SCHEMA_NOT_THERE = frozenset(("42P01", "42703"))  # undefined_table, undefined_column


def _unavailable(error: SQLAlchemyError) -> bool:
    """No row can be written now, whichever it is: the database is unreachable or the table is missing."""
    if isinstance(error, _UNAVAILABLE):
        return True
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) in _SCHEMA_NOT_THERE


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


@cache
def _column_lengths() -> dict[str, int | None]:
    """Each column's name and length (None: unbounded), read once: a column collection's look-ups are slow."""
    return {column.name: getattr(column.type, "length", None) for column in RequestLogEntry.__table__.columns}


def fit_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every string fit for its column: control characters escaped, cut to the column's length."""
    lengths = _column_lengths()
    fitted = dict(row)
    for name, value in row.items():
        if not isinstance(value, str) or name not in lengths:
            continue
        pattern = _CONTROL if name in _BODY_COLUMNS else _CONTROL_ON_ONE_LINE
        text = pattern.sub(_escape, value) if pattern.search(value) else value
        length = lengths[name]
        fitted[name] = text[:length] if length else text
    return fitted


def _without_bodies(row: dict[str, Any], error: Exception) -> dict[str, Any]:
    """A last try at a row the database refused: its bodies replaced by why, every string in plain ASCII."""
    note = f"[not logged: the database refused this row ({type(error).__name__})]"
    stripped = {name: (note if name in _BODY_COLUMNS else value) for name, value in row.items()}
    return {
        name: value.encode("ascii", "backslashreplace").decode("ascii") if isinstance(value, str) else value
        for name, value in fit_row(stripped).items()
    }


# --- Money calls: the row is written inside the money transaction --------------------------------


@dataclass
class MoneyCallRow:
    """The log row of the money call this context is handling.

    ``fields`` builds the row from what is known before the answer; ``row_id`` is the row's id once the
    money transaction that holds it has committed (None before, and for ever after a rollback).
    """

    fields: Callable[[], dict[str, Any]]
    row_id: int | None = None


_money_call: ContextVar[MoneyCallRow | None] = ContextVar("issuer_money_call_row", default=None)
_table = RequestLogEntry.__table__
_INSERT_ROW = sa.insert(_table)
# A money call's row, in its money transaction: every column but the id, which comes back.
_INSERT_MONEY_CALL_ROW = Prebuilt(
    _INSERT_ROW.returning(_table.c.id),
    tuple(column.name for column in _table.columns if column.name != "id"),
)
# Completing a money call's row by its id: SET takes the buffered row's columns (as bind parameters).
_COMPLETE_ROW = sa.update(_table).where(_table.c.id == sa.bindparam("row_id"))


def begin_money_call(fields: Callable[[], dict[str, Any]]) -> Token[MoneyCallRow | None]:
    """From here to ``end_money_call``, a committed money transaction carries this call's log row."""
    return _money_call.set(MoneyCallRow(fields))


def end_money_call(token: Token[MoneyCallRow | None]) -> None:
    _money_call.reset(token)


def money_call() -> MoneyCallRow | None:
    """The money call this context is handling, if any (set by the API's request hooks)."""
    return _money_call.get()


def insert_money_call_row() -> int | None:
    """Insert the money call's row in the current (money) transaction, marked as waiting for its answer.

    Returns the row's id (one INSERT), or None outside a logged money call. Called by the rules' commit
    helper just before it commits; pass the id to ``money_call_committed`` once the commit succeeded.
    """
    call = _money_call.get()
    if call is None:
        return None
    row = fit_row({**call.fields(), "answer_logged": False})
    return _INSERT_MONEY_CALL_ROW.execute(core_connection(), row).scalar_one()


def money_call_committed(row_id: int | None) -> None:
    """The transaction holding the row ``row_id`` committed: the buffer completes that row, adds none."""
    call = _money_call.get()
    if call is not None and row_id is not None:
        call.row_id = row_id


class RequestLogWriter:
    """One app's buffer of request-log rows and the thread that writes them."""

    def __init__(self, app: Flask, flush_seconds: float) -> None:
        self.app = app
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # guards _rows and _thread
        self._write_lock = threading.Lock()  # one batch at a time, in order
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, row: dict[str, Any]) -> None:
        """Buffer one row (column name to value); written within one flush interval."""
        row = fit_row(row)
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= MAX_BUFFERED_ROWS
            self._start_thread_once()
        if full:
            self.flush()

    def flush(self) -> int:
        """Write every buffered row now; returns how many were written (0 if the write failed)."""
        with self._write_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            with self.app.app_context(), writing():
                try:
                    self._insert(rows)
                    return len(rows)
                except SQLAlchemyError as error:
                    if _unavailable(error):
                        logger.exception(
                            "Could not write %d request log rows; they are kept for the next attempt.", len(rows)
                        )
                        self._keep(rows)
                        return 0
                    logger.exception("A batch of %d request log rows failed; writing them one by one.", len(rows))
                return self._write_one_by_one(rows)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Write rows in one transaction: new rows inserted, money calls' rows completed by their id.

        On PostgreSQL the transaction commits without waiting for the WAL fsync
        (``database.commit_without_waiting_for_disk``): a crash of the PostgreSQL server may lose the last few
        hundred milliseconds of log rows (a clean stop loses none, and money calls' rows were committed with
        their money, synchronously); the batch no longer waits ~1.6 ms for the disk while holding the buffer.
        """
        try:
            commit_without_waiting_for_disk(db.session)
            new_rows = [row for row in rows if "row_id" not in row]
            if new_rows:
                db.session.execute(_INSERT_ROW, new_rows)
            _complete([row for row in rows if "row_id" in row])
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            raise

    def _write_one_by_one(self, rows: list[dict[str, Any]]) -> int:
        """Each row on its own, so a bad one holds back nothing; returns how many were written."""
        written = 0
        for position, row in enumerate(rows):
            try:
                written += self._write_row(row)
            except SQLAlchemyError:  # only "no row can be written now" gets here: keep this row and the rest
                logger.exception(
                    "Could not write request log rows; %d are kept for the next attempt.", len(rows) - position
                )
                self._keep(rows[position:])
                return written
        return written

    def _write_row(self, row: dict[str, Any]) -> int:
        """Write one row (1), or again without its bodies; 0 if it is lost. Raises when no row can be written."""
        try:
            self._insert([row])
        except SQLAlchemyError as error:
            if _unavailable(error):
                raise
            return self._write_without_bodies(row, error)
        return 1

    def _write_without_bodies(self, row: dict[str, Any], error: SQLAlchemyError) -> int:
        logger.error("The database refused a request log row (%s %s -> %s): %s", *_summary(row), error)
        try:
            self._insert([_without_bodies(row, error)])
        except SQLAlchemyError as second:
            if _unavailable(second):
                raise
            logger.exception("Request log row lost: %s %s -> %s", *_summary(row))
            return 0
        return 1

    def _keep(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._rows[:0] = rows

    def discard(self) -> None:
        """Forget the buffered rows (the sandbox was reset: the log starts empty); waits out a write under way."""
        with self._write_lock, self._lock:
            self._rows = []

    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def _start_thread_once(self) -> None:
        # Started on first use in each process: a thread does not survive gunicorn's fork.
        if self._thread is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=_write_periodically, args=(weakref.ref(self), self._wake), name="request-log-writer", daemon=True
        )
        self._thread.start()
        _live_writers.add(self)


def _complete(completions: list[dict[str, Any]]) -> None:
    """Complete money calls' rows by id; one whose row is gone (a sandbox reset in another worker emptied the
    log since) is inserted whole instead, so no call goes unlogged."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in completions:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    for group in by_columns.values():
        result = db.session.execute(_COMPLETE_ROW, group)
        if db.session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount == len(group):
            continue
        for row in group:  # some rows did not match (or the driver cannot say): find which, one at a time
            if db.session.execute(sa.select(_table.c.id).where(_table.c.id == row["row_id"])).first() is None:
                db.session.execute(_INSERT_ROW, {name: value for name, value in row.items() if name != "row_id"})


def _summary(row: dict[str, Any]) -> tuple[str, str, str]:
    """Method, path and status of a row, printable in a log line whatever they hold."""
    return tuple(ascii(row.get(name)) for name in ("method", "path", "status"))  # type: ignore[return-value]


# Every writer of this process that has rows to write at exit; weak, so an app that is gone is not kept.
_live_writers: weakref.WeakSet[RequestLogWriter] = weakref.WeakSet()


def _write_periodically(writer_ref: weakref.ref[RequestLogWriter], wake: threading.Event) -> None:
    """The writer thread: a flush every interval, until its app (and so its writer) is gone."""
    interval = writer_ref().flush_seconds if writer_ref() is not None else 0
    while True:
        wake.wait(interval)
        wake.clear()
        writer = writer_ref()
        if writer is None:
            return
        interval = writer.flush_seconds
        writer.flush()
        del writer  # hold no reference while asleep


@atexit.register
def _flush_at_exit() -> None:
    for writer in list(_live_writers):
        writer.flush()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = RequestLogWriter(app, int(app.config["REQUEST_LOG_FLUSH_MS"]) / 1000)


def writer(app: Flask) -> RequestLogWriter:
    return app.extensions[EXTENSION_KEY]
