"""The committed Traditional Chinese catalogue: complete, not fuzzy, in step with the code, compiled."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "shop" / "translations" / "zh_Hant_HK" / "LC_MESSAGES"


def _read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def catalogue():
    return _read(CATALOGUE / "messages.po")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages the code has today, extracted exactly as shop/babel.cfg documents."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "shop" / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext"]
        + ["-o", str(pot), str(ROOT)]
    )
    return _read(pot)


def _ids(catalog) -> set:
    return {message.id for message in catalog if message.id}


def test_every_message_is_translated_and_none_is_fuzzy(catalogue):
    untranslated = [
        message.id
        for message in catalogue
        if message.id and (not message.string or (isinstance(message.string, tuple) and not all(message.string)))
    ]
    fuzzy = [message.id for message in catalogue if message.id and message.fuzzy]
    assert untranslated == []
    assert fuzzy == []
    assert not catalogue.fuzzy, "the catalogue header is marked fuzzy"


def test_translations_keep_every_placeholder(catalogue):
    problems = [(message.id, [str(error) for error in errors]) for message, errors in catalogue.check()]
    assert problems == []


def test_catalogue_has_every_message_of_the_code_and_no_stale_one(catalogue, extracted):
    code, po = _ids(extracted), _ids(catalogue)
    assert sorted(map(str, code - po)) == [], "run pybabel update (see shop/babel.cfg)"
    assert sorted(map(str, po - code)) == [], "messages the code no longer has: run pybabel update"
    assert len(code) > 400


def test_committed_mo_is_the_compiled_po(catalogue):
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    committed = (CATALOGUE / "messages.mo").read_bytes()
    assert committed == compiled.getvalue(), "run: .venv/bin/pybabel compile -d shop/translations"


def test_hong_kong_words_are_used(catalogue):
    wanted = {
        "Cart": "購物車",
        "Checkout": "結帳",
        "Sign in": "登入",
        "Sign out": "登出",
        "One-time password": "一次性密碼",
    }
    for english, chinese in wanted.items():
        assert catalogue[english].string == chinese
