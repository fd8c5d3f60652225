#!/usr/bin/env bash
# Refreshes the translation catalogues from the marked strings, then compiles them
# (manage.py likeness_messages holds the options). Run it after adding or changing a marked
# string, then translate the new entries in locale/*/LC_MESSAGES/django.po and djangojs.po
# and run it again to compile them; tests/site/test_translations.py fails while one is
# missing, fuzzy or not compiled, and `manage.py likeness_messages --check` says so too.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${LIKENESS_VENV:-.venv}/bin/python"
# Makes catalogues, signs nothing: a throwaway key, so no DJANGO_SECRET_KEY is needed here.
DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-catalogues-only-$RANDOM$RANDOM}" "$PY" manage.py likeness_messages
