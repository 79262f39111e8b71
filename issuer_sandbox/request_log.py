"""The request log's writer: entries are buffered in memory and written in batches, off the request's path.

Writing each call's log row in a transaction of its own made every call, reads included, queue for
SQLite's write lock. Here a call only appends a row to this process's buffer; a background thread writes
the buffer in one transaction every ``REQUEST_LOG_FLUSH_MS`` (or sooner when it fills up), and the
process writes whatever is left when it exits cleanly (gunicorn's SIGTERM or SIGINT, Ctrl-C, the end of a
command). Readers in this process (the console and the sandbox API) flush first, so they always see their
own calls; another worker's calls appear within one flush interval. A row is lost only if the process is
killed (SIGKILL) before its next flush. A failed write keeps the rows for the next attempt.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from .database import writing
from .extensions import db
from .models import RequestLogEntry

EXTENSION_KEY = "issuer_request_log"
# Past this many buffered rows a call writes the buffer itself instead of waiting for the thread.
MAX_BUFFERED_ROWS = 5_000

logger = logging.getLogger(__name__)


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
            try:
                with self.app.app_context(), writing():
                    db.session.execute(sa.insert(RequestLogEntry), rows)
                    db.session.commit()
            except SQLAlchemyError:
                logger.exception("Could not write %d request log rows; they are kept for the next attempt.", len(rows))
                with self._lock:
                    self._rows[:0] = rows
                return 0
            return len(rows)

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
