#!/usr/bin/env bash
# Runs Likeness on the embedded default: SQLite, the ORM job broker, private media
# under var/, console email, the tiny engine. Site on http://127.0.0.1:8000 plus
# the CPU and GPU job workers. Ctrl-C (or SIGTERM) stops all three within 30 seconds.
#
# For this machine only: it serves 127.0.0.1, without DEBUG, on a secret key of its own. The
# README's "Security" says what to set before a site faces anyone else.
#
# The install, migrations and workers write to var/*.log; the terminal shows a short
# summary: where the site is and how to sign in as staff.
#
#   LIKENESS_ADDR          address:port to serve (default 127.0.0.1:8000)
#   LIKENESS_VAR_DIR       the folder for the database, media, logs and key (default var/)
#   LIKENESS_VENV          the virtualenv (default .venv)
#   LIKENESS_SKIP_INSTALL  set: use the virtualenv as it is (scripts/setup.sh not run)
set -euo pipefail
cd "$(dirname "$0")/.."
# The folder holds the database, the private media and logs with mailed sign-in links (console
# email): readable by this user alone, as the site's own files are (the settings' umask, portrait_site/settings/base.py).
VAR="${LIKENESS_VAR_DIR:-var}"
export LIKENESS_VAR_DIR="$VAR"
mkdir -p "$VAR" && chmod 700 "$VAR"
touch "$VAR/install.log" "$VAR/workers.log" "$VAR/server.log" && chmod 600 "$VAR"/*.log
PY="${LIKENESS_VENV:-.venv}/bin/python"
ADDR="${LIKENESS_ADDR:-127.0.0.1:8000}"
# A secret key of this install's own, made on the first start and kept: the built-in one is public
# (the settings refuse it without DEBUG). One set in the environment or in .env wins.
if [ ! -s "$VAR/secret-key" ]; then
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(50))' >"$VAR/secret-key.new")
  mv "$VAR/secret-key.new" "$VAR/secret-key"
fi
chmod 600 "$VAR/secret-key"
if [ -z "${DJANGO_SECRET_KEY:-}" ] && ! grep -qs '^DJANGO_SECRET_KEY=' .env; then
  DJANGO_SECRET_KEY="$(cat "$VAR/secret-key")"
  export DJANGO_SECRET_KEY
fi

echo "Installing and preparing Likeness (details in $VAR/install.log)…"
if ! { { [ -n "${LIKENESS_SKIP_INSTALL:-}" ] || scripts/setup.sh; } \
       && "$PY" manage.py migrate --noinput && "$PY" manage.py collectstatic --noinput -v0; } \
    >"$VAR/install.log" 2>&1; then
  tail -n 30 "$VAR/install.log"
  echo "Install failed: the whole log is $VAR/install.log" >&2
  exit 1
fi
seeded="$("$PY" manage.py seed_likeness)"
echo "$seeded" >>"$VAR/install.log"

# Each process starts in a process group of its own (setsid), so stopping reaches everything it
# started. A qcluster asked to stop waits for its running tasks, and can hang for good when the
# signal lands while it holds its stop event's lock (django-q2 issue #346) or its sentinel died
# holding it: so each gets STOP_GRACE_SECONDS to finish, then its whole group is killed. A job
# cut off that way is taken up again by the stale-job sweep once the workers start
# (avatars.jobs.jobs_requeue_stale: its heartbeat went quiet).
STOP_GRACE_SECONDS=20
pids=()
stop_all() {
  # A second Ctrl-C or SIGTERM while stopping (an impatient person, or a supervisor that signals
  # twice) must not end this script before its children: it only cuts the grace short.
  trap - EXIT
  trap 'hurry=1' INT TERM
  hurry=0
  [ "${#pids[@]}" -gt 0 ] || return 0
  echo "Stopping Likeness…"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq $((STOP_GRACE_SECONDS * 4))); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] || [ "$hurry" -eq 1 ] && break
    sleep 0.25 || true  # a Ctrl-C kills the sleep too: under set -e that would end the script
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # `wait` sees only the direct children: their own children (the clusters' workers) are gone
  # once no process is left in any of the groups.
  for _ in $(seq 40); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.25 || true  # a Ctrl-C kills the sleep too: under set -e that would end the script
  done
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT
setsid "$PY" manage.py qcluster >>"$VAR/workers.log" 2>&1 & pids+=($!)
Q_CLUSTER_NAME=gpu setsid "$PY" manage.py qcluster >>"$VAR/workers.log" 2>&1 & pids+=($!)
# Without DEBUG: the site's own error pages, and WhiteNoise serves the static files.
setsid "$PY" manage.py runserver --noreload --skip-checks "$ADDR" >>"$VAR/server.log" 2>&1 & pids+=($!)
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
    Logs            $VAR/server.log, $VAR/workers.log, $VAR/install.log
  Ctrl-C stops it.

SUMMARY
# Until Ctrl-C, SIGTERM, or one of the three stops: then the trap stops the others.
wait -n
