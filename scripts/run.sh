#!/usr/bin/env bash
# Runs Likeness on the embedded default: SQLite, the ORM job broker, private media
# under var/, console email, the tiny engine. Site on http://127.0.0.1:8000 plus
# the CPU and GPU job workers. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PY="${LIKENESS_VENV:-.venv}/bin/python"

"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput -v0
"$PY" manage.py seed_likeness

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
"$PY" manage.py qcluster & pids+=($!)
Q_CLUSTER_NAME=gpu "$PY" manage.py qcluster & pids+=($!)
DJANGO_DEBUG="${DJANGO_DEBUG:-true}" "$PY" manage.py runserver "${LIKENESS_ADDR:-127.0.0.1:8000}" & pids+=($!)
wait -n
