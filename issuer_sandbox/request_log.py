"""The request log's writer: entries are buffered in memory and written in batches, off the request's path.

Writing each call's log row in a transaction of its own made every call, reads included, queue for
SQLite's write lock. Here a call only appends a row to this process's buffer; a background thread writes
the buffer in one transaction every ``REQUEST_LOG_FLUSH_MS`` (or sooner when it fills up), and the
process writes whatever is left when it exits cleanly (gunicorn's SIGTERM or SIGINT, Ctrl-C, the end of a
command). Readers in this process (the console and the sandbox API) flush first, so they always see their
own calls; another worker's calls appear within one flush interval. A row is lost only if the process is
killed (SIGKILL) before its next flush. A failed write keeps the rows for the next attempt.

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
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from .database import writing
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


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def fit_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every string fit for its column: control characters escaped, cut to the column's length."""
    columns = RequestLogEntry.__table__.columns
    fitted = dict(row)
    for name, value in row.items():
        if not isinstance(value, str) or name not in columns:
            continue
        pattern = _CONTROL if name in _BODY_COLUMNS else _CONTROL_ON_ONE_LINE
        text = pattern.sub(_escape, value)
        length = getattr(columns[name].type, "length", None)
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
                except _UNAVAILABLE:
                    logger.exception(
                        "Could not write %d request log rows; they are kept for the next attempt.", len(rows)
                    )
                    self._keep(rows)
                    return 0
                except SQLAlchemyError:
                    logger.exception("A batch of %d request log rows failed; writing them one by one.", len(rows))
                return self._write_one_by_one(rows)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            db.session.execute(sa.insert(RequestLogEntry), rows)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            raise

    def _write_one_by_one(self, rows: list[dict[str, Any]]) -> int:
        """Each row on its own, so a bad one holds back nothing; returns how many were written."""
        written = 0
        for position, row in enumerate(rows):
            try:
                self._insert([row])
            except _UNAVAILABLE:
                logger.exception(
                    "Could not write request log rows; %d are kept for the next attempt.", len(rows) - position
                )
                self._keep(rows[position:])
                return written
            except SQLAlchemyError as error:
                written += self._write_without_bodies(row, error)
                continue
            written += 1
        return written

    def _write_without_bodies(self, row: dict[str, Any], error: SQLAlchemyError) -> int:
        logger.error("The database refused a request log row (%s %s -> %s): %s", *_summary(row), error)
        try:
            self._insert([_without_bodies(row, error)])
        except SQLAlchemyError:
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
