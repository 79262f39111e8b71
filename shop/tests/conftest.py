"""Fixtures for the shop's unit and integration tests: a fresh seeded database per test.

On SQLite (the default) each test gets a new file. With ``TEST_DATABASE=postgresql`` (and TEST_POSTGRES_URL)
every test runs on PostgreSQL instead: this process's own database, migrated once per session and emptied and
re-seeded before each test (see testing/postgres.py). Tests marked ``sqlite_only`` are deselected there.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from shop import create_app
from shop.extensions import db
from shop.seed import seed_database
from testing import postgres

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
    from shop.database import upgrade_schema

    url = postgres.create_database("pwp_shop")
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        upgrade_schema()
    close_app(app)
    _suite_database_url = url
    yield url
    _suite_database_url = None
    postgres.drop_database(url)


def default_database_url(tmp_path) -> str:
    """Where a test's shop keeps its data unless it says: the suite's PostgreSQL database, or a new SQLite file."""
    return _suite_database_url or f"sqlite:///{tmp_path / 'shop.sqlite3'}"


TEST_CONFIG = {
    "TESTING": True,
    "WTF_CSRF_ENABLED": False,
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast: every test seeds two shoppers
    "ISSUER_URL": "http://127.0.0.1:9",  # nothing listens: unit tests use a fake issuer client
}


def make_app(tmp_path, **config):
    """The seeded shop on a fresh database (see default_database_url); ``config`` overrides the test defaults."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": default_database_url(tmp_path), **config})
    with app.app_context():
        if app.config["DATABASE_URL"] == _suite_database_url:
            postgres.truncate_all(db.engine, db.metadata.sorted_tables)
        else:
            db.create_all()
        seed_database()
    return app


def close_app(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(request, tmp_path):
    """The seeded shop (see make_app); on a fresh PostgreSQL database where a test asks (support.on_both_databases)."""
    backend = getattr(request, "param", "sqlite")
    config = {"DATABASE_URL": request.getfixturevalue("fresh_postgres_url")} if backend == "postgresql" else {}
    app = make_app(tmp_path, **config)
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class ShopperActions:
    """Sign a shopper in and out through the real forms, so tests read as what a shopper does."""

    def __init__(self, client):
        self.client = client

    def sign_in(self, email: str = "chan.taiman@example.com", password: str = "demo1234"):
        return self.client.post("/account/sign-in", data={"email": email, "password": password})

    def sign_out(self):
        return self.client.post("/account/sign-out")


@pytest.fixture
def shopper(client):
    return ShopperActions(client)


@pytest.fixture
def ctx(app):
    """An app context for tests that call the rules modules directly."""
    with app.app_context():
        yield


@pytest.fixture
def fake():
    """A fresh in-memory bank, passed to the rules explicitly (not installed on the app)."""
    from .fakes import FakeIssuerClient

    return FakeIssuerClient()


@pytest.fixture
def user(ctx):
    """Chan Tai Man, the seeded shopper who owns the happy card."""
    import sqlalchemy as sa

    from shop.models import User

    return db.session.scalar(sa.select(User).where(User.email == "chan.taiman@example.com"))


@pytest.fixture
def fake_issuer(app):
    """Summit Bank in memory, installed as the app's issuer client (see shop/tests/fakes.py)."""
    from .fakes import FakeIssuerClient

    fake = FakeIssuerClient()
    app.extensions["issuer_client"] = fake
    return fake


class CheckoutActions:
    """Walk the checkout through the real forms: add a product, give delivery details, pay, use points."""

    HAPPY_CARD = "4966 0100 0000 8741"

    def __init__(self, app, client):
        self.app = app
        self.client = client

    def product(self, price_cents: int = 52_000, stock: int = 10, sku: str = "T-CHECKOUT") -> int:
        from .support import make_product

        with self.app.app_context():
            return make_product(sku, price_cents, stock).id

    def add_to_cart(self, product_id: int | None = None, quantity: int = 1):
        product_id = product_id or self.product()
        return self.client.post("/cart/add", data={"product_id": product_id, "quantity": quantity})

    def deliver(self, **overrides):
        data = {"name": "Chan Tai Man", "phone": "91234567", "address": "1 Harbour Road", "district": "Wan Chai"}
        return self.client.post("/checkout", data={**data, **overrides})

    def start_order(self, product_id: int | None = None, quantity: int = 1) -> str:
        """Add to cart and give delivery details; returns the new order's reference."""
        self.add_to_cart(product_id, quantity)
        response = self.deliver()
        assert response.status_code == 302, response.get_data(as_text=True)
        return response.headers["Location"].split("/")[2]

    def pay(self, reference: str, number: str = HAPPY_CARD, **overrides):
        data = {"card_number": number, "expiry": "12/30", "cvc": "123", "holder_name": "CHAN TAI MAN"}
        return self.client.post(f"/checkout/{reference}/payment", data={**data, **overrides})

    def paid_order(self, number: str = HAPPY_CARD, product_id: int | None = None, quantity: int = 1) -> str:
        reference = self.start_order(product_id, quantity)
        self.pay(reference, number)
        return reference

    def send_code(self, reference: str, phone: str = "91234567"):
        return self.client.post(f"/checkout/{reference}/points/send-code", data={"phone": phone})

    def verify(self, reference: str, otp: str):
        return self.client.post(f"/checkout/{reference}/points/verify", data={"otp": otp})

    def use_points(self, reference: str, points: int | str):
        return self.client.post(f"/checkout/{reference}/points/redeem", data={"points": points, "submit": "Use points"})

    def link_card(self, reference: str, fake, phone: str = "91234567"):
        self.send_code(reference, phone)
        return self.verify(reference, fake.last_otp(phone))


@pytest.fixture
def checkout(app, client, shopper, fake_issuer):
    """A signed-in Chan Tai Man with the fake bank installed, ready to check out."""
    shopper.sign_in()
    return CheckoutActions(app, client)


@pytest.fixture
def fresh_postgres_url():
    """A new, uniquely named PostgreSQL database for one test, dropped afterwards; skipped without one."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    name = f"pwp_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.make_url(url).set(database=name).render_as_string(hide_password=False)
    for attempt in range(20):  # our connections are closed by now; one may still be closing
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            break
        except sa.exc.OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.25)
    admin.dispose()
