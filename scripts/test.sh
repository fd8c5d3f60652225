#!/usr/bin/env bash
# Installs everything the tests need (Python packages, Debian's Chromium), makes sure
# PostgreSQL and Redis are up, checks the import contracts and the lint rules, then runs
# the suite twice: on SQLite (the embedded default) and on PostgreSQL with Redis (the
# scale path). Extra arguments go to pytest.
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
# Both passes always run, so one database's failure doesn't hide the other's.
sqlite_status=0
echo "== Likeness tests on SQLite (embedded default) =="
env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest "$@" || sqlite_status=$?

postgres_status=0
echo "== Likeness tests on PostgreSQL + Redis (scale path) =="
# tests/engine never touches a database: its one run above covers it.
DATABASE_URL="${LIKENESS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/likeness}" \
REDIS_URL="${LIKENESS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" \
  "$PY" -m pytest --ignore=tests/engine "$@" || postgres_status=$?
# Exit 5 means the arguments picked only engine tests, which the first pass ran.
[ "$postgres_status" -eq 5 ] && postgres_status=0

echo "== SQLite pass exit $sqlite_status, PostgreSQL pass exit $postgres_status =="
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
