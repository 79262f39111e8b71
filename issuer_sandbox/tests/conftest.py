"""Fixtures for the issuer's unit and API tests: a fresh seeded database per test."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from issuer_sandbox import create_app
from issuer_sandbox.extensions import db
from issuer_sandbox.seed import seed_database

CLIENT_ID = "harbour-mall"
CLIENT_SECRET = "harbour-mall-secret"
SANDBOX_KEY = "demo-sandbox-key"


def make_app(database_url: str, **config):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False, **config})
    with app.app_context():
        db.create_all()
        seed_database()
    return app


@pytest.fixture
def app(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'issuer.sqlite3'}")
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


@pytest.fixture
def postgres_url():
    """A PostgreSQL URL for tests that must also run there; skipped where TEST_POSTGRES_URL is unset."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    return url


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
