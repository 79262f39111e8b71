"""What a shop worker prepares before its first request, so the first shoppers do not wait for it.

A fresh worker compiles each Jinja template the first time a page needs it (about 10 ms each, 22 templates),
imports the e-mail validator on the first sign-up and reads each language's catalogue on its first page in
that language. Twenty shoppers checking out at once on a fresh worker each paid some of that, and the
slowest step of the slowest shopper is the figure that matters. gunicorn.conf.py's ``post_worker_init`` runs
it once per worker (about a quarter of a second, see ``worker_start``); tests and commands, which create many
short-lived apps, never do.
"""

from __future__ import annotations

import importlib

from flask import Flask
from flask_babel import force_locale, gettext

from .i18n import LOCALES

# Imported by a library on first use, not when the app is built.
LAZY_IMPORTS = ("email_validator",)


def warm_up(app: Flask) -> None:
    """Compile every shop template, import what sign-up's checks import, and load both languages' catalogues."""
    for name in app.jinja_env.list_templates(filter_func=lambda name: name.startswith(("shop/", "common/"))):
        app.jinja_env.get_template(name)
    for module in LAZY_IMPORTS:
        importlib.import_module(module)
    with app.test_request_context("/"):
        for locale in LOCALES:
            with force_locale(locale):
                gettext("Cart")


def worker_start(app: Flask) -> None:
    """A server worker's start: the warm-up, then SQLite's WAL checkpoints in their own thread (see database.py)."""
    warm_up(app)
    wal_checkpoints = app.extensions.get("wal_checkpoints")
    if wal_checkpoints is not None:
        wal_checkpoints.start()


def install(app: Flask) -> None:
    """Offer the worker start to the server (gunicorn.conf.py calls ``app.extensions["worker_start"]()``)."""
    app.extensions["worker_start"] = lambda: worker_start(app)
