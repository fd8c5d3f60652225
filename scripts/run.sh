#!/usr/bin/env bash
# Runs Likeness on the embedded default: SQLite, the ORM job broker, private media
# under var/, console email, the tiny engine. Site on http://127.0.0.1:8000 plus
# the CPU and GPU job workers. Ctrl-C stops all three.
#
# The install, migrations and workers write to var/*.log; the terminal shows a short
# summary: where the site is and how to sign in as staff.
set -euo pipefail
cd "$(dirname "$0")/.."
# var/ holds the database, the private media and logs with mailed sign-in links (console
# email): readable by this user alone, as the site's own files are (settings.py's umask).
mkdir -p var && chmod 700 var
touch var/install.log var/workers.log var/server.log && chmod 600 var/*.log
PY="${LIKENESS_VENV:-.venv}/bin/python"
ADDR="${LIKENESS_ADDR:-127.0.0.1:8000}"
# A secret key of this install's own, made on the first start and kept: the built-in one is public
# (settings.py refuses it without DEBUG). One set in the environment or in .env wins.
if [ ! -s var/secret-key ]; then
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(50))' >var/secret-key.new)
  mv var/secret-key.new var/secret-key
fi
chmod 600 var/secret-key
if [ -z "${DJANGO_SECRET_KEY:-}" ] && ! grep -qs '^DJANGO_SECRET_KEY=' .env; then
  DJANGO_SECRET_KEY="$(cat var/secret-key)"
  export DJANGO_SECRET_KEY
fi

echo "Installing and preparing Likeness (details in var/install.log)…"
if ! { scripts/setup.sh && "$PY" manage.py migrate --noinput && "$PY" manage.py collectstatic --noinput -v0; } \
    >var/install.log 2>&1; then
  tail -n 30 var/install.log
  echo "Install failed: the whole log is var/install.log" >&2
  exit 1
fi
seeded="$("$PY" manage.py seed_likeness)"
echo "$seeded" >>var/install.log

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
"$PY" manage.py qcluster >>var/workers.log 2>&1 & pids+=($!)
Q_CLUSTER_NAME=gpu "$PY" manage.py qcluster >>var/workers.log 2>&1 & pids+=($!)
DJANGO_DEBUG="${DJANGO_DEBUG:-true}" "$PY" manage.py runserver --skip-checks "$ADDR" >>var/server.log 2>&1 & pids+=($!)
for _ in $(seq 1 60); do
  "$PY" -c "import urllib.request, sys; urllib.request.urlopen('http://$ADDR/healthz', timeout=1)" 2>/dev/null && break
  sleep 0.5
done

staff_line="$(grep -m1 '^Staff user\|^A superuser' <<<"$seeded" || true)"
cat <<SUMMARY

  Likeness is running.
    Site            http://$ADDR/
    Admin           http://$ADDR/admin/   (dashboard: http://$ADDR/admin/dashboard/)
    API docs        http://$ADDR/api/v1/docs/
    $staff_line
SUMMARY
if [[ "$staff_line" != *"password:"* ]]; then
  echo "    New staff password: $PY manage.py changepassword <email>"
fi
cat <<SUMMARY
    Logs            var/server.log, var/workers.log, var/install.log
  Ctrl-C stops it.

SUMMARY
wait -n
