#!/usr/bin/env bash
# Installs everything the tests need (Python packages, Debian's Chromium and gettext), makes sure
# PostgreSQL and Redis are up, checks the import contracts and the lint rules, then runs
# the suite twice, side by side: on SQLite (the embedded default) and on PostgreSQL with Redis
# (the scale path). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "[test]"
PY="${LIKENESS_VENV:-.venv}/bin/python"

# Debian's Chromium for the browser tests, a Chinese font so its screenshots of the zh-Hans
# pages show characters (not boxes), and gettext for the catalogue check (makemessages).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing+=(fonts-wqy-microhei)
command -v xgettext >/dev/null || missing+=(gettext)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q && apt-get install -y -q "${missing[@]}"
fi
# The catalogue tests run makemessages and msgfmt (tests/site/test_translations.py).
if ! command -v msgfmt >/dev/null || ! command -v xgettext >/dev/null || ! command -v msgattrib >/dev/null; then
  apt-get update -q && apt-get install -y -q gettext
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
fi

echo "== Structure and style: import-linter's contracts (pyproject.toml), ruff =="
"${LIKENESS_VENV:-.venv}/bin/lint-imports" --no-cache
"${LIKENESS_VENV:-.venv}/bin/ruff" check .

mkdir -p test-artifacts
# The two passes run at once, each in its own process on its own database: most of a pass is
# one CPU-bound process (Django, the tiny engines) or waiting on a browser or a worker, so on
# two cores the pair takes little longer than the longer pass alone. Each line of output says
# which pass wrote it. Both passes always run to the end, so one database's failure doesn't
# hide the other's.
run_pass() {
  local label="$1"; shift
  "$@" 2>&1 | sed -u "s/^/[$label] /"
  return "${PIPESTATUS[0]}"
}
echo "== Likeness tests on SQLite (embedded default) and on PostgreSQL + Redis (scale path), side by side =="
run_pass sqlite env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest "$@" &
sqlite_pid=$!
# tests/engine never touches a database, and the tests marked engine_end_to_end run the tiny
# engines through whole builds whose database work the job tests cover on both databases: the
# SQLite pass runs them once.
run_pass postgres env \
  DATABASE_URL="${LIKENESS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/likeness}" \
  REDIS_URL="${LIKENESS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
  "$PY" -m pytest --ignore=tests/engine -m "not engine_end_to_end" "$@" &
postgres_pid=$!
sqlite_status=0
postgres_status=0
wait "$sqlite_pid" || sqlite_status=$?
wait "$postgres_pid" || postgres_status=$?
# Exit 5 means the arguments picked only tests that the first pass runs alone.
[ "$postgres_status" -eq 5 ] && postgres_status=0

echo "== SQLite pass exit $sqlite_status, PostgreSQL pass exit $postgres_status =="
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
