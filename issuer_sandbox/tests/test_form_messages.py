"""WTForms' built-in messages on the sandbox's pages: Traditional Chinese on Chinese pages, never Simplified."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import request

from issuer_sandbox.console.forms import RequestFilterForm

PACKAGE = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("language", "message"),
    [("zh-HK", "欄位長度不能超過 200 個字元。"), ("en", "Field cannot be longer than 200 characters.")],
)
def test_a_built_in_validation_message_follows_the_page_language_in_traditional_script(app, language, message):
    with app.test_request_context("/requests", query_string={"path": "x" * 201}, headers={"Accept-Language": language}):
        form = RequestFilterForm(request.args)
        assert not form.validate()
        assert form.path.errors == [message]
        assert "字段" not in form.path.errors[0]  # WTForms' Simplified "field"


def test_every_sandbox_form_derives_from_the_sandbox_base():
    """A form made straight from FlaskForm would show WTForms' Simplified Chinese."""
    direct = []
    for source in PACKAGE.rglob("*.py"):
        if "tests" in source.parts or source.name == "form_base.py":
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id == "FlaskForm" for base in node.bases
            ):
                direct.append(f"{source.relative_to(PACKAGE)}:{node.name}")
    assert direct == []
