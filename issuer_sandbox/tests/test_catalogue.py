"""The Traditional Chinese catalogue is complete, current and compiled (commands in issuer_sandbox/babel.cfg)."""

import io
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "issuer_sandbox" / "translations"
PO = TRANSLATIONS / "zh_Hant_HK" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def _catalogue():
    with PO.open("rb") as handle:
        return read_po(handle, locale="zh_Hant_HK")


def _ids(catalogue) -> set:
    return {message.id for message in catalogue if message.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, monkeypatch_module):
    """The messages the code and templates have today, extracted as babel.cfg says."""
    pot = tmp_path_factory.mktemp("catalogue") / "messages.pot"
    monkeypatch_module.chdir(ROOT)
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", "issuer_sandbox/babel.cfg", "-k", "_l", "-k", "lazy_gettext"]
        + ["--no-location", "-o", str(pot), "."]
    )
    with pot.open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_every_message_is_translated_and_none_is_fuzzy():
    catalogue = _catalogue()
    untranslated = [m.id for m in catalogue if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert len(catalogue) > 100
    assert not untranslated, untranslated
    assert not fuzzy, fuzzy


def test_the_catalogue_has_exactly_the_messages_of_the_code(extracted):
    catalogue_ids, code_ids = _ids(_catalogue()), _ids(extracted)
    assert not code_ids - catalogue_ids, f"in the code, not in the .po (pybabel update): {code_ids - catalogue_ids}"
    assert not catalogue_ids - code_ids, f"in the .po, no longer in the code: {catalogue_ids - code_ids}"


def test_the_committed_mo_is_the_po_compiled():
    compiled = io.BytesIO()
    write_mo(compiled, _catalogue())
    assert MO.read_bytes() == compiled.getvalue(), "run: .venv/bin/pybabel compile -d issuer_sandbox/translations"


def test_placeholders_survive_translation():
    for message in _catalogue():
        if message.id and isinstance(message.id, str) and "%(" in message.id:
            for name in ("%(" + part.split(")", 1)[0] + ")" for part in message.id.split("%(")[1:]):
                assert name in message.string, (message.id, message.string)
