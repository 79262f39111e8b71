"""Harbour Mall: the merchant, with Pay with Points at checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app, request, session

from . import form_rendering, page_cache, rate_limits, validation, warm_up
from .cart.rules import SESSION_KEY as CART_SESSION_KEY
from .config import DEFAULTS, DEMO_SECRETS, MIN_SECRET_BYTES, SECRET_SETTINGS
from .database import configure_engine, engine_options, install_request_intent
from .extensions import babel, csrf, db
from .i18n import install_template_gettext, select_locale
from .session_cookies import ReusedSerializerSessionInterface

__version__ = "0.1.0"

# Pages that always carry personal data (the cart, checkout, orders, the account), signed in or not.
PERSONAL_BLUEPRINTS = frozenset({"cart", "checkout", "orders", "accounts", "insights"})
# Session keys that make any page personal: a signed-in shopper, or a visitor with a cart.
PERSONAL_SESSION_KEYS = ("user_id", CART_SESSION_KEY)

# Same-origin scripts, styles and images only: nothing is fetched from anywhere else.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the shop app: defaults, then SHOP_* environment, then the test mapping."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("SHOP")
    if test_config:
        app.config.update(test_config)
    _apply_secrets(app)
    app.session_interface = ReusedSerializerSessionInterface()

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"] or (
        f"sqlite:///{Path(app.instance_path) / 'shop.sqlite3'}"
    )
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))

    form_rendering.install()
    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    install_template_gettext(app)
    with app.app_context():
        app.extensions["wal_checkpoints"] = configure_engine(db.engine)
    install_request_intent(app)  # before any other hook opens a transaction
    validation.init_app(app)  # a NUL in the URL is a 400 before any hook or view queries with it
    page_cache.init_app(app)
    rate_limits.init_app(app)

    _register_features(app)
    app.after_request(_security_headers)
    warm_up.install(app)
    return app


def _register_features(app: Flask) -> None:
    """One blueprint per feature package, then the app-wide error pages, commands and template helpers."""
    from . import cli, health
    from .accounts.views import bp as accounts_bp
    from .cart.views import bp as cart_bp
    from .catalog.views import bp as catalog_bp
    from .checkout.views import bp as checkout_bp
    from .errors import register_error_handlers
    from .i18n import bp as language_bp
    from .insights.views import bp as insights_bp
    from .orders.views import bp as orders_bp
    from .templating import register_template_helpers

    for blueprint in (health.bp, catalog_bp, cart_bp, accounts_bp, checkout_bp, orders_bp, insights_bp, language_bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    cli.register(app)
    register_template_helpers(app)


def _apply_secrets(app: Flask) -> None:
    """Demo mode fills in the documented demo secrets; production refuses to start without them, with any
    published demo value or with a secret shorter than MIN_SECRET_BYTES."""
    if app.config["ENV"] not in ("demo", "production"):
        raise RuntimeError(f"SHOP_ENV must be 'demo' or 'production', not {app.config['ENV']!r}.")
    if app.config["PWP_FLOW"] not in ("native", "legacy"):
        raise RuntimeError(f"SHOP_PWP_FLOW must be 'native' or 'legacy', not {app.config['PWP_FLOW']!r}.")
    missing = [key for key in DEMO_SECRETS if not app.config.get(key)]
    if app.config["ENV"] == "production" and missing:
        names = ", ".join(f"SHOP_{key}" for key in missing)
        raise RuntimeError(f"Harbour Mall cannot start in production mode: set {names}.")
    if app.config["ENV"] == "production":
        _refuse_weak_secrets(app)
        app.config["SESSION_COOKIE_SECURE"] = True
    for key in missing:
        app.config[key] = DEMO_SECRETS[key]


def _refuse_weak_secrets(app: Flask) -> None:
    """Stop start-up when a secret is one the README publishes or too short to resist guessing."""
    published = {str(value) for value in DEMO_SECRETS.values()}
    problems = []
    for key in SECRET_SETTINGS:
        value = str(app.config[key])
        if value in published:
            problems.append(f"SHOP_{key} is a published demo value")
        elif len(value.encode()) < MIN_SECRET_BYTES:
            problems.append(f"SHOP_{key} is shorter than {MIN_SECRET_BYTES} bytes")
    if problems:
        raise RuntimeError(
            f"Harbour Mall cannot start in production mode: {'; '.join(problems)}. "
            'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.blueprint in PERSONAL_BLUEPRINTS or any(key in session for key in PERSONAL_SESSION_KEYS):
        # A shopper's own page: no browser or proxy may keep it (a shared computer's back button, a CDN).
        response.headers["Cache-Control"] = "no-store"
    if current_app.config["PREFERRED_URL_SCHEME"] == "https":
        max_age = int(current_app.config["HSTS_MAX_AGE_SECONDS"])
        response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
    return response
