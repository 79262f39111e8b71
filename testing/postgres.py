"""Running a whole unit/integration suite on PostgreSQL (``TEST_DATABASE=postgresql``, with TEST_POSTGRES_URL).

Each pytest process (each xdist worker) gets a database of its own per app, created and migrated once per
session; between tests every table but ``alembic_version`` is emptied in one TRUNCATE … RESTART IDENTITY
CASCADE and the app re-seeds, so ids start at 1 as they do on a fresh SQLite file. Test-only: neither app
imports this package.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

DATABASES = ("sqlite", "postgresql")
SQLITE_ONLY = "sqlite_only"


def test_database() -> str:
    """The database the suite runs on: ``TEST_DATABASE`` (sqlite by default, or postgresql)."""
    name = os.environ.get("TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
    if name not in DATABASES:
        raise pytest.UsageError(f"TEST_DATABASE={name!r}: expected one of {', '.join(DATABASES)}")
    if name == "postgresql" and not os.environ.get("TEST_POSTGRES_URL"):
        raise pytest.UsageError(
            "TEST_DATABASE=postgresql needs TEST_POSTGRES_URL "
            "(postgresql+psycopg://user:password@host/db, a role that may create databases)"
        )
    return name


def on_postgresql() -> bool:
    return test_database() == "postgresql"


def _admin_engine() -> sa.Engine:
    # CREATE/DROP DATABASE cannot run in a transaction: the URL's own database, with autocommit.
    return sa.create_engine(os.environ["TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_database(prefix: str) -> str:
    """A new, uniquely named database; returns its URL (password kept)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{prefix}_{worker}_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return sa.make_url(os.environ["TEST_POSTGRES_URL"]).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database at ``url``, first closing whatever connections a test left open on it."""
    name = sa.make_url(url).database
    admin = _admin_engine()
    try:
        for attempt in range(20):
            try:
                with admin.connect() as connection:
                    connection.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid() AND usename = current_user"
                        ),
                        {"name": name},
                    )
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except sa.exc.OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
    finally:
        admin.dispose()


def truncate_all(engine: sa.Engine, tables: Iterable[sa.Table]) -> None:
    """Empty ``tables`` in one statement, identities restarted; fails clearly rather than wait on a lock."""
    names = ", ".join(engine.dialect.identifier_preparer.format_table(table) for table in tables)
    with engine.begin() as connection:
        # A connection a test left idle in a transaction would hold TRUNCATE's lock for ever.
        connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


class SqliteOnlyReport:
    """Says which tests ``sqlite_only`` deselected, also under xdist (whose summary leaves deselection out)."""

    NAME = "pwp-sqlite-only-report"
    KEY = "sqlite_only_deselected"

    def __init__(self) -> None:
        self.deselected: dict[str, str] = {}  # node id -> reason

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: hand the list to the controller
            workeroutput[self.KEY] = dict(self.deselected)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        self.deselected.update(getattr(node, "workeroutput", {}).get(self.KEY, {}))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.deselected:
            return
        terminalreporter.write_sep("-", f"{len(self.deselected)} sqlite_only tests deselected on PostgreSQL")
        for nodeid, reason in sorted(self.deselected.items()):
            terminalreporter.write_line(f"{nodeid}: {reason}")


def sqlite_only_report(config: pytest.Config) -> SqliteOnlyReport:
    """The session's one report (both apps' conftests share it)."""
    report = config.pluginmanager.get_plugin(SqliteOnlyReport.NAME)
    if report is None:
        report = SqliteOnlyReport()
        config.pluginmanager.register(report, SqliteOnlyReport.NAME)
    return report


def deselect_sqlite_only(config: pytest.Config, items: list[pytest.Item], under: str) -> None:
    """On PostgreSQL, deselect (and report) the tests under ``under`` marked ``sqlite_only``; each needs a reason."""
    if not on_postgresql():
        return
    kept, deselected = [], []
    for item in items:
        marker = item.get_closest_marker(SQLITE_ONLY)
        if marker is None or not str(item.path).startswith(under):
            kept.append(item)
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.sqlite_only needs a reason")
        deselected.append(item)
        sqlite_only_report(config).deselected[item.nodeid] = reason
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
