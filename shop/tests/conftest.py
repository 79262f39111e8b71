"""Fixtures for the shop's unit and integration tests: a fresh seeded database per test."""

from __future__ import annotations

import pytest

from shop import create_app
from shop.extensions import db
from shop.seed import seed_database


@pytest.fixture
def app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
            "WTF_CSRF_ENABLED": False,
            "ISSUER_URL": "http://127.0.0.1:9",  # nothing listens: unit tests use a fake issuer client
        }
    )
    with app.app_context():
        db.create_all()
        seed_database()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


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
