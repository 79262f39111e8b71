"""A gunicorn worker compiles the shop's templates before its first request (gunicorn.conf.py post_worker_init)."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

from flask_babel import force_locale, gettext

from shop import warm_up

ROOT = Path(__file__).resolve().parents[2]


def _shop_templates(app) -> list[str]:
    return app.jinja_env.list_templates(filter_func=lambda name: name.startswith(("shop/", "common/")))


def test_the_warm_up_compiles_every_shop_template_once(app, monkeypatch):
    names = _shop_templates(app)
    assert "shop/checkout/points.html" in names and "common/forms.html" in names
    app.jinja_env.cache.clear()

    warm_up.warm_up(app)

    assert {key[1] for key in app.jinja_env.cache.keys()} >= set(names)  # (loader, name) keys
    compiled = []
    monkeypatch.setattr(app.jinja_env, "compile", lambda *args, **kwargs: compiled.append(args))
    app.jinja_env.get_template("shop/checkout/points.html")
    assert compiled == []  # served from the cache the warm-up filled


def test_the_warm_up_leaves_both_languages_working(app):
    warm_up.warm_up(app)
    with app.test_request_context("/"):
        with force_locale("zh_Hant_HK"):
            assert gettext("Cart") == "購物車"
        with force_locale("en"):
            assert gettext("Cart") == "Cart"


def test_gunicorn_runs_the_apps_warm_up_in_each_worker_and_nothing_without_one():
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    calls = []

    class Worker:
        def __init__(self, wsgi) -> None:
            self.wsgi = wsgi

    class App:
        extensions = {"worker_start": lambda: calls.append("warmed")}

    class AppWithoutOne:
        extensions: dict = {}

    try:
        config["post_worker_init"](Worker(App()))
        config["post_worker_init"](Worker(AppWithoutOne()))
        config["post_worker_init"](Worker(object()))
        assert calls == ["warmed"]
        assert gc.get_freeze_count() > 0  # what the worker built is kept out of the collector's scans
    finally:
        gc.unfreeze()
