"""The catalogues are complete and current: every marked string has a Simplified Chinese
translation that no one left fuzzy, makemessages finds nothing new on a clean checkout, and
each .mo is compiled from its .po (manage.py likeness_messages holds the options)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from accounts.management.commands.likeness_messages import (
    catalogues_compiled_differences,
    catalogues_current_differences,
)

ROOT = Path(settings.BASE_DIR)
CATALOGUES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))

pytestmark = pytest.mark.skipif(
    not (shutil.which("msgattrib") and shutil.which("msgfmt") and shutil.which("xgettext")),
    reason="needs GNU gettext (scripts/test.sh installs it)",
)


def test_there_is_a_catalogue_for_every_language_but_the_default():
    languages = {path.parent.parent.name for path in CATALOGUES}
    expected = {code.split("-")[0] + ("_" + code.split("-")[1].title() if "-" in code else "")
                for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE}
    assert expected <= languages


def _entries(po: Path, *only: str) -> str:
    """The entries msgattrib picks (header excepted: it prints one only when something matched)."""
    picked = subprocess.run(
        ["msgattrib", *only, "--no-wrap", str(po)], check=True, capture_output=True, text=True
    ).stdout
    entries = [entry for entry in picked.split("\n\n") if entry.strip() and 'msgid ""\nmsgstr ""' not in entry]
    return "\n\n".join(entries)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.relative_to(ROOT / "locale")))
def test_every_marked_string_is_translated_and_none_is_left_fuzzy(po):
    untranslated = _entries(po, "--untranslated")
    fuzzy = _entries(po, "--only-fuzzy")
    assert not untranslated, f"Not translated in {po.name} (translate them, then run scripts/messages.sh):\n{untranslated}"
    assert not fuzzy, f"Fuzzy in {po.name}: check each guess, then drop its 'fuzzy' flag:\n{fuzzy}"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.relative_to(ROOT / "locale")))
def test_every_translation_keeps_its_placeholders(po):
    checked = subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(po)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_makemessages_on_a_clean_checkout_changes_no_catalogue():
    differences = catalogues_current_differences(ROOT)
    assert not differences, "\n".join(differences)


def test_each_committed_mo_is_compiled_from_its_po():
    differences = catalogues_compiled_differences(ROOT)
    assert not differences, "\n".join(differences)
