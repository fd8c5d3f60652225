"""No running site on a public key: the built-in SECRET_KEY is for a DEBUG site only
(portrait_site.settings), and scripts/run.sh makes a key of its own (tests/site/test_run_script.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
BUILT_IN_KEY = "django-insecure-likeness-embedded-default-key"


def manage_check(tmp_path, **variables) -> subprocess.CompletedProcess:
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "LIKENESS_"))},
        "LIKENESS_MEDIA_ROOT": str(tmp_path),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("key", [None, "", BUILT_IN_KEY], ids=["unset", "empty", "built-in"])
def test_without_debug_the_site_will_not_start_on_no_key_or_the_built_in_one(tmp_path, key):
    variables = {"DJANGO_DEBUG": "false"} | ({} if key is None else {"DJANGO_SECRET_KEY": key})

    result = manage_check(tmp_path, **variables)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set, or is the built-in key" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr  # says how to make one


def test_a_debug_site_on_a_developers_machine_may_use_the_built_in_key(tmp_path):
    assert manage_check(tmp_path, DJANGO_DEBUG="true").returncode == 0


def test_the_test_suite_runs_on_a_key_of_its_own():
    assert settings.SECRET_KEY not in ("", BUILT_IN_KEY)
    assert os.environ["DJANGO_SECRET_KEY"] == settings.SECRET_KEY
