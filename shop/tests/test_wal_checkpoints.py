"""On SQLite a server worker checkpoints the WAL in a thread of its own, not inside a shopper's commit."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Product

pytestmark = pytest.mark.sqlite_only(reason="SQLite's WAL checkpoints (PostgreSQL has none to move)")


def _autocheckpoint(app) -> int:
    """A new pooled connection's automatic-checkpoint threshold, in WAL pages (0: off)."""
    with app.app_context():
        with db.engine.connect() as connection:
            return connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()


def _write(app, rounds: int) -> None:
    with app.app_context():
        for stock in range(rounds):
            db.session.execute(sa.update(Product).values(stock=100 + stock))
            db.session.commit()


def _wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_commands_and_tests_keep_sqlites_own_checkpoints(app):
    assert app.extensions["wal_checkpoints"].running is False
    assert _autocheckpoint(app) == 1000


def test_a_worker_start_turns_them_off_and_checkpoints_in_the_background(app):
    checkpoints = app.extensions["wal_checkpoints"]
    app.extensions["worker_start"]()
    assert checkpoints.running and _autocheckpoint(app) == 0

    _write(app, 20)
    # Every frame the writes added reaches the database file without any commit doing it.
    assert _wait_for(lambda: checkpoints.last_result is not None and checkpoints.last_result[1] > 0)
    assert _wait_for(
        lambda: checkpoints.last_result[0] == 0 and checkpoints.last_result[1] == checkpoints.last_result[2]
    )


def test_disposing_the_engine_stops_the_thread(app):
    checkpoints = app.extensions["wal_checkpoints"]
    app.extensions["worker_start"]()
    thread = checkpoints._thread
    assert thread is not None and thread.is_alive()
    with app.app_context():
        db.engine.dispose()
    assert not checkpoints.running and not thread.is_alive()
