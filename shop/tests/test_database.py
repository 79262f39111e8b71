"""The shop's SQLite set-up: catalogue reads never take the write lock; sign-up hashes outside any transaction."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from flask import render_template_string

from shop.extensions import db
from shop.models import User

from .support import statements_during


def begins_during(app, call) -> list[str]:
    return [statement for statement in statements_during(app, call) if statement.startswith("BEGIN")]


@pytest.mark.sqlite_only(
    reason="SQLite's BEGIN modes: reads begin DEFERRED (PostgreSQL has no database-wide write lock)"
)
def test_catalogue_pages_begin_without_the_write_lock(app, client):
    for path in ("/", "/category/supermarket", "/search?q=rice", "/product/jasmine-rice-5kg", "/cart"):
        assert set(begins_during(app, lambda path=path: client.get(path))) == {"BEGIN"}, path


@pytest.mark.sqlite_only(reason="SQLite's BEGIN modes (PostgreSQL has no database-wide write lock)")
def test_the_delivery_and_payment_forms_show_without_the_write_lock_and_post_with_it(app, client, checkout):
    # Under load a form page that held the write lock while it rendered made every other writer wait.
    checkout.add_to_cart()
    assert set(begins_during(app, lambda: client.get("/checkout"))) == {"BEGIN"}
    posted: list = []
    assert "BEGIN IMMEDIATE" in begins_during(app, lambda: posted.append(checkout.deliver()))
    reference = posted[0].headers["Location"].split("/")[2]
    page: list = []
    assert set(begins_during(app, lambda: page.append(client.get(f"/checkout/{reference}/payment")))) == {"BEGIN"}
    assert page[0].status_code == 200
    assert "BEGIN IMMEDIATE" in begins_during(app, lambda: checkout.pay(reference))


@pytest.mark.sqlite_only(reason="SQLite's BEGIN IMMEDIATE for form posts (PostgreSQL has no database-wide write lock)")
def test_a_form_post_takes_the_write_lock_up_front(app, client):
    data = {"email": "x@example.com", "password": "not-the-password"}  # the view looks the shopper up
    begins = begins_during(app, lambda: client.post("/account/sign-in", data=data))
    assert begins[0] == "BEGIN IMMEDIATE"


def test_sign_up_hashes_the_password_with_no_transaction_open(app, client, monkeypatch):
    open_during_hash: list[bool] = []
    real_set_password = User.set_password

    def watching_set_password(self, password: str) -> None:
        open_during_hash.append(db.session().in_transaction())
        real_set_password(self, password)

    monkeypatch.setattr(User, "set_password", watching_set_password)
    response = client.post(
        "/account/sign-up",
        data={
            "name": "New Shopper",
            "email": "new.shopper@example.com",
            "phone": "91234567",
            "password": "a-long-password-1",
            "confirm": "a-long-password-1",
        },
    )
    assert response.status_code == 302
    assert open_during_hash == [False]


READ_ONLY_ENDPOINTS = {
    "health.healthz",
    "catalog.home",
    "catalog.category",
    "catalog.product",
    "catalog.search",
    "cart.view",
    "accounts.sign_in",
    "accounts.sign_up",
    "checkout.start",  # the delivery form; its POST creates the order with the write lock
    "checkout.payment",  # the card form; paying is its POST
    "orders.history",
    "orders.detail",  # only reads: "Check again" (a POST) and `flask --app shop reconcile` settle the bank's steps
    "insights.index",  # the figures and their CSVs only read
    "insights.kpis_csv",
    "insights.journeys_csv",
}


def test_the_read_only_views_are_these_endpoints_wherever_their_modules_live(app):
    marked = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, "read_only", False)}
    assert marked == READ_ONLY_ENDPOINTS


def test_pages_that_write_on_get_are_not_marked_read_only(app):
    # The points page records that the offer was shown.
    for endpoint in ("checkout.points",):
        assert not getattr(app.view_functions[endpoint], "read_only", False), endpoint


def test_the_suite_runs_on_the_database_test_database_names(app):
    """TEST_DATABASE=postgresql puts every test's shop on PostgreSQL (the suite's database), else SQLite."""
    from testing import postgres

    with app.app_context():
        assert db.engine.dialect.name == postgres.test_database()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_starts_from_the_seed_with_identities_restarted(app, round_):
    """Between tests the database is emptied and re-seeded: the first round's extra shopper is gone, ids from 1."""
    from datetime import datetime

    with app.app_context():
        ids = db.session.scalars(sa.select(User.id).order_by(User.id)).all()
        assert ids and ids == list(range(1, len(ids) + 1))
        assert db.session.scalar(sa.select(User).where(User.email == "extra@example.com")) is None
        db.session.add(
            User(email="extra@example.com", name="Extra", password_hash="x", created_at=datetime(2026, 1, 1))
        )
        db.session.commit()


def test_test_database_names_a_database_the_suite_can_run_on(monkeypatch):
    """A TEST_DATABASE the suites cannot honour stops the run with a clear error, never a silent SQLite run."""
    from testing import postgres

    monkeypatch.setenv("TEST_DATABASE", "mysql")
    with pytest.raises(pytest.UsageError, match="TEST_DATABASE='mysql': expected one of sqlite, postgresql"):
        postgres.test_database()
    monkeypatch.setenv("TEST_DATABASE", "postgresql")
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    with pytest.raises(pytest.UsageError, match="TEST_DATABASE=postgresql needs TEST_POSTGRES_URL"):
        postgres.test_database()
    monkeypatch.setenv("TEST_DATABASE", "PostgreSQL")
    monkeypatch.setenv("TEST_POSTGRES_URL", "postgresql+psycopg://u:p@127.0.0.1/db")
    assert postgres.test_database() == "postgresql"
    monkeypatch.delenv("TEST_DATABASE")
    assert postgres.test_database() == "sqlite"


def _write_lock_is_free(app) -> str:
    """Whether another connection could take SQLite's write lock right now ("free" or "locked")."""
    probe = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return "free"
    except sqlite3.OperationalError:
        return "locked"
    finally:
        probe.close()


def _read() -> str:
    """A read while the page renders (as the header's categories are), shown as nothing."""
    db.session.execute(sa.text("SELECT 1"))
    return ""


@pytest.mark.sqlite_only(reason="SQLite's database-wide write lock")
def test_a_page_renders_without_the_write_lock_unless_something_is_left_to_write(app, client):
    answers: list[str] = []

    @app.get("/probe/<mode>")
    def probe(mode: str):
        db.session.execute(sa.text("SELECT 1"))  # a view that may write: its transaction took the write lock
        if mode == "pending":
            db.session.add(User(email="pending@example.com", name="Pending", phone="91234567", password_hash="x"))
        if mode == "committed":
            db.session.commit()  # the view's own last commit: the render's reads must not take the lock again
        page = render_template_string(
            "{{ lock() }}{{ read() }}", lock=lambda: _write_lock_is_free(app), read=_read if mode != "pending" else str
        )
        if mode == "write-after":
            db.session.execute(sa.text("UPDATE products SET stock = stock WHERE id = 1"))
            db.session.commit()
        return page

    assert client.get("/probe/settled").get_data(as_text=True) == "free"
    begins = begins_during(app, lambda: answers.append(client.get("/probe/committed").get_data(as_text=True)))
    assert answers == ["free"] and begins == ["BEGIN IMMEDIATE", "BEGIN"]
    assert client.get("/probe/pending").get_data(as_text=True) == "locked"  # uncommitted work is not committed
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "pending@example.com")) is None
    begins = begins_during(app, lambda: client.get("/probe/write-after"))
    assert begins[0] == "BEGIN IMMEDIATE" and begins[-1] == "BEGIN IMMEDIATE"  # the write intent is back
