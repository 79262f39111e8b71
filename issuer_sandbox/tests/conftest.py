"""Fixtures for the issuer's unit and API tests: a fresh seeded database per test.

On SQLite (the default) each test gets a new file. With ``TEST_DATABASE=postgresql`` (and TEST_POSTGRES_URL)
every test runs on PostgreSQL instead: this process's own database, migrated once per session and emptied and
re-seeded before each test (see testing/postgres.py). Tests marked ``sqlite_only`` are deselected there.
"""

from __future__ import annotations

import base64
import os
import time
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from issuer_sandbox import create_app, request_log
from issuer_sandbox.extensions import db
from issuer_sandbox.seed import seed_database
from testing import postgres

CLIENT_ID = "harbour-mall"
CLIENT_SECRET = "harbour-mall-secret"
SANDBOX_KEY = "demo-sandbox-key"


def close_app(app) -> None:
    """Write the buffered request log, then close every pooled connection (a test database may be dropped next)."""
    request_log.writer(app).flush()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# This process's PostgreSQL database for the suite (TEST_DATABASE=postgresql), set by suite_database.
_suite_database_url: str | None = None


def pytest_configure(config):
    if postgres.on_postgresql():
        postgres.sqlite_only_report(config)  # registered in the xdist controller too, which collects nothing


def pytest_collection_modifyitems(config, items):
    postgres.deselect_sqlite_only(config, items, under=os.path.dirname(__file__))


@pytest.fixture(scope="session", autouse=True)
def suite_database():
    """On PostgreSQL: create and migrate this process's database once, drop it at the end of the session."""
    global _suite_database_url
    if not postgres.on_postgresql():
        yield None
        return
    from issuer_sandbox.database import upgrade_schema

    url = postgres.create_database("pwp_issuer")
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with app.app_context():
        upgrade_schema()
    close_app(app)
    _suite_database_url = url
    yield url
    _suite_database_url = None
    postgres.drop_database(url)


def default_database_url(tmp_path) -> str:
    """Where a test's sandbox keeps its data unless it says: the suite's PostgreSQL database, or a new SQLite file."""
    return _suite_database_url or f"sqlite:///{tmp_path / 'issuer.sqlite3'}"


def make_app(database_url: str, **config):
    """The seeded sandbox on ``database_url``: the suite's database is emptied first, any other is created."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False, **config})
    with app.app_context():
        if database_url == _suite_database_url:
            postgres.truncate_all(db.engine, db.metadata.sorted_tables)
        else:
            db.create_all()
        seed_database()
    return app


@pytest.fixture
def app(tmp_path):
    app = make_app(default_database_url(tmp_path))
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def postgres_url():
    """A PostgreSQL URL for tests that must also run there; skipped where TEST_POSTGRES_URL is unset."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture
def fresh_postgres_url(postgres_url):
    """A new, uniquely named PostgreSQL database for one test, dropped afterwards: parallel runs never collide."""
    name = f"pwp_test_{uuid.uuid4().hex[:16]}"
    # CREATE/DROP DATABASE cannot run inside a transaction: connect to the URL's own database with autocommit.
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    # Not WITH (FORCE): a non-superuser may not terminate an autovacuum worker, which a plain DROP
    # asks to leave. Our own connections are closed by then; retry briefly in case one is closing.
    for attempt in range(20):
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            break
        except sa.exc.OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.25)
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_app(request, tmp_path):
    """The seeded app on the suite's database, and again on a fresh PostgreSQL one when TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        url = default_database_url(tmp_path)
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    # Enough pooled connections for the 20-thread concurrency tests.
    app = make_app(url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25, "max_overflow": 5, "pool_pre_ping": True})
    yield app
    close_app(app)


class PartnerApi:
    """A small actions helper: a token and the partner headers, so tests read as the calls they make."""

    def __init__(self, client, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET):
        self.client = client
        self.client_id = client_id
        self.client_secret = client_secret
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            response = self.client.post(
                "/gcb/api/clientCredentials/oauth2/token/hk/gcb",
                data={"grant_type": "client_credentials", "scope": "/api"},
                headers={"Authorization": basic_auth(self.client_id, self.client_secret)},
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            self._token = response.json["access_token"]
        return self._token

    def headers(self, **extra) -> dict:
        return {
            "Authorization": f"Bearer {self.token()}",
            "client_id": self.client_id,
            "uuid": str(uuid.uuid4()),
            "Accept": "application/json",
            **extra,
        }

    def get(self, path, **kwargs):
        return self.client.get(path, headers=self.headers(**kwargs.pop("headers", {})), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.client.post(path, json=json, headers=self.headers(**kwargs.pop("headers", {})), **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.client.put(path, json=json, headers=self.headers(**kwargs.pop("headers", {})), **kwargs)

    def delete(self, path, **kwargs):
        return self.client.delete(path, headers=self.headers(**kwargs.pop("headers", {})), **kwargs)


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def api(client):
    return PartnerApi(client)
