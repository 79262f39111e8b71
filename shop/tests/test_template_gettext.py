"""Templates look the request's catalogue up once, and still follow a locale changed during the request."""

from __future__ import annotations

import flask_babel
from flask import render_template_string
from flask_babel import force_locale


def test_templates_translate_with_the_request_locale_and_follow_force_locale(app):
    template = "{{ _('Your cart is empty.') }}|{{ ngettext('%(num)d item', '%(num)d items', 2) }}"
    with app.test_request_context("/", headers={"Accept-Language": "zh-HK"}):
        assert render_template_string(template).startswith("你的購物車是空的。|")
        with force_locale("en"):
            assert render_template_string(template) == "Your cart is empty.|2 items"
        assert render_template_string(template).startswith("你的購物車是空的。|")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert render_template_string(template) == "Your cart is empty.|2 items"


def test_the_catalogue_is_looked_up_once_per_request(app, monkeypatch):
    looked_up = []
    original = flask_babel.get_translations

    def counting():
        looked_up.append(1)
        return original()

    monkeypatch.setattr(flask_babel, "get_translations", counting)
    with app.test_request_context("/", headers={"Accept-Language": "zh-HK"}):
        render_template_string("{% for _i in range(20) %}{{ _('Your cart is empty.') }}{% endfor %}")
    assert len(looked_up) == 1
