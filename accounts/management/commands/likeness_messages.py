"""Refreshes the translation catalogues from the marked strings and compiles them; with
--check, refreshes a copy of the project instead and says whether the committed catalogues
are already what the code marks (no string missed, none left over, every .mo compiled).

The one home of the options (scripts/messages.sh calls this; tests/site/test_translations.py
runs --check): no line numbers, so moving code changes nothing; no obsolete entries kept.
"""

from __future__ import annotations

import contextlib
import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

DOMAINS = ("django", "djangojs")
MAKEMESSAGES_OPTIONS = {"no_location": True, "no_obsolete": True}
# makemessages' own defaults, and for the site's strings the templates written as .md (the
# export's LoRA README).
DOMAIN_EXTENSIONS = {"django": ["html", "txt", "py", "md"], "djangojs": ["js"]}
# Not the site's own strings: tools, tests, measurements and build output.
IGNORED = [".venv", "var", "tests", "bench", "test-artifacts", "build", "node_modules", ".git"]
# Rewritten by every run, so never a difference.
VOLATILE_HEADER = "POT-Creation-Date:"


def catalogue_languages(locale_dir: Path) -> list[str]:
    return sorted(path.name for path in locale_dir.iterdir() if (path / "LC_MESSAGES").is_dir())


def catalogue_files(locale_dir: Path) -> dict[str, bytes]:
    """Every .po and .mo under locale/, by path relative to it."""
    return {
        str(path.relative_to(locale_dir)): path.read_bytes()
        for path in sorted(locale_dir.glob("*/LC_MESSAGES/*"))
        if path.suffix in (".po", ".mo")
    }


def _without_volatile_lines(text: bytes) -> list[str]:
    return [line for line in text.decode("utf-8").splitlines() if VOLATILE_HEADER not in line]


def _po_differences(committed: dict[str, bytes], refreshed: dict[str, bytes]) -> list[str]:
    differences = []
    for name in sorted(name for name in set(committed) | set(refreshed) if name.endswith(".po")):
        if name not in committed:
            differences.append(f"{name} is missing: run scripts/messages.sh")
        elif name not in refreshed:
            differences.append(f"{name} is left over from a language no longer in locale/")
        elif _without_volatile_lines(committed[name]) != _without_volatile_lines(refreshed[name]):
            diff = difflib.unified_diff(
                _without_volatile_lines(committed[name]), _without_volatile_lines(refreshed[name]),
                "committed", "refreshed", lineterm="", n=1,
            )
            differences.append(
                f"{name} is not what the marked strings make: run scripts/messages.sh\n" + "\n".join(list(diff)[:80])
            )
    return differences


def _mo_differences(committed: dict[str, bytes], compiled: dict[str, bytes]) -> list[str]:
    return [
        f"{name} is not compiled from its .po: run scripts/messages.sh"
        for name in sorted(name for name in set(committed) | set(compiled) if name.endswith(".mo"))
        if committed.get(name) != compiled.get(name)
    ]


def _project_copy(source: Path, target: Path) -> None:
    """What a clean checkout holds: the tracked files and the untracked ones git does not ignore."""
    if (source / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=source, check=True, capture_output=True,
        ).stdout.decode().split("\0")
        for name in filter(None, listed):
            path = source / name
            if path.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / name)
    else:
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*IGNORED, "__pycache__"))


def _manage(copy: Path, *arguments: str) -> None:
    # In the copy, settings.BASE_DIR (and so LOCALE_PATHS) is the copy's own.
    finished = subprocess.run([sys.executable, "manage.py", *arguments], cwd=copy, capture_output=True, text=True)
    if finished.returncode != 0:
        raise CommandError(f"manage.py {' '.join(arguments)} failed:\n{finished.stdout}{finished.stderr}")


def catalogues_compiled_differences(root: Path) -> list[str]:
    """Each committed .mo against its committed .po, compiled afresh."""
    with tempfile.TemporaryDirectory(prefix="likeness-messages-") as folder:
        copy = Path(folder)
        _project_copy(root, copy)
        _manage(copy, "compilemessages", *[f"--ignore={pattern}" for pattern in IGNORED])
        return _mo_differences(catalogue_files(root / "locale"), catalogue_files(copy / "locale"))


def catalogues_current_differences(root: Path) -> list[str]:
    """Each committed .po against what makemessages makes of a clean copy of the project."""
    with tempfile.TemporaryDirectory(prefix="likeness-messages-") as folder:
        copy = Path(folder)
        _project_copy(root, copy)
        _manage(copy, "likeness_messages")
        return _po_differences(catalogue_files(root / "locale"), catalogue_files(copy / "locale"))


class Command(BaseCommand):
    help = "Refresh and compile the translation catalogues under locale/ (--check: only say if they are stale)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true",
            help="Refresh a copy of the project and fail if the committed catalogues differ from it.",
        )

    def handle(self, *args, check: bool = False, **options):
        root = Path(settings.BASE_DIR)
        if check:
            self._check(root)
        else:
            self._refresh(root)

    def _refresh(self, root: Path) -> None:
        locale_dir = root / "locale"
        languages = catalogue_languages(locale_dir)
        # makemessages reads the folder it runs in.
        with contextlib.chdir(root):
            for language in languages:
                for domain in DOMAINS:
                    call_command(
                        "makemessages", locale=[language], domain=domain, ignore_patterns=IGNORED,
                        extensions=DOMAIN_EXTENSIONS[domain], verbosity=0, **MAKEMESSAGES_OPTIONS,
                    )
            call_command("compilemessages", locale=languages, ignore_patterns=IGNORED, verbosity=0)
        self.stdout.write(f"Catalogues refreshed and compiled: {', '.join(languages)}.")

    def _check(self, root: Path) -> None:
        differences = catalogues_current_differences(root) + catalogues_compiled_differences(root)
        if differences:
            raise CommandError("\n".join(differences))
        self.stdout.write("The catalogues are up to date.")
