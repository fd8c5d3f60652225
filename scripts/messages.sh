#!/usr/bin/env bash
# Refreshes the translation catalogues from the marked strings, then compiles them.
# Run it after adding or changing a marked string, then translate the new entries in
# locale/zh_Hans/LC_MESSAGES/django.po and djangojs.po (tests/site/test_translations.py
# fails while one is missing or fuzzy). No line numbers, so moving code changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${LIKENESS_VENV:-.venv}/bin/python"
IGNORE=(--ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=test-artifacts --ignore=build)
for language in $(ls locale); do
  "$PY" manage.py makemessages -l "$language" --no-location --no-obsolete "${IGNORE[@]}"
  "$PY" manage.py makemessages -d djangojs -l "$language" --no-location --no-obsolete "${IGNORE[@]}"
done
"$PY" manage.py compilemessages --ignore=.venv
