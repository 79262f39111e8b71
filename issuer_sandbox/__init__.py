"""Summit Bank sandbox: the simulated issuer behind Pay with Points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, current_app, request, session

from . import i18n, rate_limits, request_log
from .config import DEFAULTS, DEMO_SECRETS, MIN_SECRET_BYTES, SECRET_SETTINGS
from .database import configure_engine, install_request_intent
from .extensions import csrf, db
from .session_cookies import ReusedSerializerSessionInterface

__version__ = "0.1.0"

# The sandbox controls, switched off together by SANDBOX_CONTROLS (off in production unless asked for): the
# JSON controls but the SMS outbox and the request log (which only read), and the console's levers.
SANDBOX_CONTROL_BLUEPRINTS = frozenset({"sandbox_controls", "console_controls"})
SANDBOX_CONTROL_ENDPOINTS = frozenset(
    {
        "sandbox.get_clock",
        "sandbox.advance_clock",
        "sandbox.reset",
        "console_cards.freeze",
        "console_cards.unfreeze",
        "console_cards.adjust_points",
        "console_cards.new_cardholder",
        "console_links.unlink",
    }
)


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
    _apply_sandbox_controls(app)
    app.session_interface = ReusedSerializerSessionInterface()  # the console's cookie, its serializer kept

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"] or (
        f"sqlite:///{Path(app.instance_path) / 'issuer.sqlite3'}"
    )

    db.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    with app.app_context():
        app.extensions["wal_checkpoints"] = configure_engine(db.engine)
    app.extensions["worker_start"] = lambda: _worker_start(app)  # gunicorn.conf.py's post_worker_init
    install_request_intent(app)  # before any other hook opens a transaction
    request_log.init_app(app)
    rate_limits.init_app(app)

    from . import cli, health
    from .api import register_api
    from .console import register_console
    from .rewards_site.views import bp as rewards_site_bp

    app.register_blueprint(health.bp)
    app.register_blueprint(rewards_site_bp)
    register_api(app)
    cli.register(app)
    register_console(app)
    app.before_request(_sandbox_controls_gate)
    app.after_request(_security_headers)
    return app


def _apply_secrets(app: Flask) -> None:
    """Demo mode fills in the documented demo secrets; production refuses to start without them, with any
    published demo value or with a secret shorter than MIN_SECRET_BYTES."""
    if app.config["ENV"] not in ("demo", "production"):
        raise RuntimeError(f"ISSUER_ENV must be 'demo' or 'production', not {app.config['ENV']!r}.")
    missing = [key for key in DEMO_SECRETS if not app.config.get(key)]
    if app.config["ENV"] == "production" and missing:
        names = ", ".join(f"ISSUER_{key}" for key in missing)
        raise RuntimeError(f"Summit Bank sandbox cannot start in production mode: set {names}.")
    if app.config["ENV"] == "production":
        _refuse_weak_secrets(app)
    for key in missing:
        app.config[key] = DEMO_SECRETS[key]


def _refuse_weak_secrets(app: Flask) -> None:
    """Stop start-up when a secret is one the README publishes or too short to resist guessing."""
    published = {str(value) for value in DEMO_SECRETS.values()}
    problems = []
    for key in SECRET_SETTINGS:
        value = str(app.config[key])
        if value in published:
            problems.append(f"ISSUER_{key} is a published demo value")
        elif len(value.encode()) < MIN_SECRET_BYTES:
            problems.append(f"ISSUER_{key} is shorter than {MIN_SECRET_BYTES} bytes")
    if problems:
        raise RuntimeError(
            f"Summit Bank sandbox cannot start in production mode: {'; '.join(problems)}. "
            'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )


def _apply_sandbox_controls(app: Flask) -> None:
    """SANDBOX_CONTROLS as a bool: "on"/"off" (or true/false); unset, on in demo mode and off in production."""
    value = app.config["SANDBOX_CONTROLS"]
    if value is None:
        app.config["SANDBOX_CONTROLS"] = app.config["ENV"] == "demo"
    elif value in ("on", True):
        app.config["SANDBOX_CONTROLS"] = True
    elif value in ("off", False):
        app.config["SANDBOX_CONTROLS"] = False
    else:
        raise RuntimeError(f"ISSUER_SANDBOX_CONTROLS must be 'on' or 'off', not {value!r}.")


def sandbox_controls_on() -> bool:
    """Whether this issuer offers the sandbox controls (templates hide their links and forms when not)."""
    return bool(current_app.config["SANDBOX_CONTROLS"])


def _sandbox_controls_gate() -> None:
    """With the controls off their routes do not exist: 404, before any key or password check."""
    if sandbox_controls_on():
        return
    current_request = request._get_current_object()
    if current_request.blueprint in SANDBOX_CONTROL_BLUEPRINTS or current_request.endpoint in SANDBOX_CONTROL_ENDPOINTS:
        abort(404)


def _security_headers(response: Response) -> Response:
    """No cache keeps a signed-in console page or a sandbox API answer (holders, mobiles, codes); HTTPS
    deployments tell browsers to stay on HTTPS."""
    from .console.auth import SIGNED_IN  # the console is imported by create_app, after this module

    current_request = request._get_current_object()  # the proxies looked up once: this runs on every call
    config = current_app._get_current_object().config
    console_page = (current_request.blueprint or "").startswith("console_") and session.get(SIGNED_IN)
    if console_page or current_request.path.startswith("/sandbox/api"):
        response.headers["Cache-Control"] = "no-store"
    if config["PREFERRED_URL_SCHEME"] == "https":
        max_age = int(config["HSTS_MAX_AGE_SECONDS"])
        response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
    return response


def _worker_start(app: Flask) -> None:
    """A server worker's start: on SQLite, WAL checkpoints in a thread of their own (see database.py)."""
    wal_checkpoints = app.extensions["wal_checkpoints"]
    if wal_checkpoints is not None:
        wal_checkpoints.start()
