"""Summit Bank sandbox: the simulated issuer behind Pay with Points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from . import rate_limits, request_log
from .config import DEFAULTS, DEMO_SECRETS
from .database import configure_engine, engine_options, install_request_intent
from .extensions import csrf, db

__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the issuer app: defaults, then ISSUER_* environment, then the test mapping."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("ISSUER")
    if test_config:
        app.config.update(test_config)
    _apply_secrets(app)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"] or (
        f"sqlite:///{Path(app.instance_path) / 'issuer.sqlite3'}"
    )
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))

    db.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    install_request_intent(app)  # before any other hook opens a transaction
    request_log.init_app(app)
    rate_limits.init_app(app)

    from . import cli, health
    from .api import register_api
    from .console import register_console

    app.register_blueprint(health.bp)
    register_api(app)
    cli.register(app)
    register_console(app)
    return app


def _apply_secrets(app: Flask) -> None:
    """Demo mode fills in the documented demo secrets; production refuses to start without them."""
    if app.config["ENV"] not in ("demo", "production"):
        raise RuntimeError(f"ISSUER_ENV must be 'demo' or 'production', not {app.config['ENV']!r}.")
    missing = [key for key in DEMO_SECRETS if not app.config.get(key)]
    if app.config["ENV"] == "production" and missing:
        names = ", ".join(f"ISSUER_{key}" for key in missing)
        raise RuntimeError(f"Summit Bank sandbox cannot start in production mode: set {names}.")
    for key in missing:
        app.config[key] = DEMO_SECRETS[key]

