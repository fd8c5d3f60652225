#!/usr/bin/env bash
# Installs what Likeness needs into ./.venv (sourced by run.sh and test.sh).
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${LIKENESS_VENV:-.venv}"
EXTRAS="${1:-}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
stamp="$VENV/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)$EXTRAS"
if [ ! -f "$stamp" ]; then
  # torch first and by exact version, so pip takes the CPU wheel and never a multi-GB CUDA build.
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q -e ".$EXTRAS"
  touch "$stamp"
fi
