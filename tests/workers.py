"""Real django-q2 worker processes for tests: `manage.py qcluster` bound to the test database.

  QWorkers(env=..., log_dir=..., settings=...)   start(["default", "gpu"]), kill("gpu"), stop(), log_text()
                                   start(["gpu-a"], program=[...]): another program that runs qcluster
  worker_environment(...)          the environment a worker needs to see this test's database and media
  database_url()                   the test database as a DATABASE_URL a worker process can open
  wait_until(check, ...)           polls check() until it returns something truthy (no sleeps to tune)
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKER_START_TIMEOUT = 90
# django-q2's worker logs "<process> processing <task name> '<function>'" as it starts each task.
PROCESSING_LINE = re.compile(r"processing (\S+) '")


def wait_until(check, *, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        if connection.is_in_memory_db():
            pytest.fail("The SQLite test database is in memory; worker processes cannot open it.")
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        credentials = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = f"{credentials}@" if credentials else ""
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{host}{db['HOST'] or ''}{port}/{db['NAME']}"
    pytest.fail(f"No worker support for the {connection.vendor} database")


def worker_environment(*, media_root, overrides: dict) -> dict:
    """What a worker needs to share this test's database and media folder, plus `overrides` as settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portrait_site.settings",
        "DATABASE_URL": database_url(),
        "LIKENESS_MEDIA_ROOT": str(media_root),
        "LIKENESS_RUN_JOBS_INLINE": "false",
        "LIKENESS_CPU_WORKERS": "1",
        "LIKENESS_GPU_WORKERS": "1",
        "PYTHONUNBUFFERED": "1",
        **{name: str(value) for name, value in overrides.items()},
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def _stop_with_parent() -> None:
    """Ask the kernel to SIGTERM the cluster if the test run dies without its teardown (a crash)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class QWorkers:
    """`manage.py qcluster` processes bound to a test's database and media, each in a session of its own.

    A process is named by its cluster ("default", "gpu"), optionally with a suffix ("gpu-2")
    for a second process of the same cluster or a replacement for one that was killed.
    """

    def __init__(self, *, env: dict, log_dir: Path, settings: dict | None = None):
        self.env = env
        self.log_dir = log_dir
        # Read at each start, so a test can change a setting for the processes it starts next.
        self.settings = settings if settings is not None else {}
        self.processes: dict[str, subprocess.Popen] = {}

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"qcluster-{name}.log"

    def log_text(self) -> str:
        return "\n".join(
            f"----- qcluster {name} (exit {process.poll()}) -----\n"
            + self.log_path(name).read_text(errors="replace")
            for name, process in self.processes.items()
        )

    def task_names(self, name: str) -> list[str]:
        """The django-q task names this process started, from its log."""
        return PROCESSING_LINE.findall(self.log_path(name).read_text(errors="replace"))

    def start(self, names=("default", "gpu"), *, env: dict | None = None, program: list[str] | None = None) -> None:
        """Start each named cluster; `program` runs instead of `manage.py qcluster` (a program that
        ends by calling qcluster, as bench/launch_standin_worker.py does)."""
        for name in names:
            if name in self.processes:
                raise ValueError(f"A qcluster named {name} was started already")
            cluster = name.split("-")[0]
            process_env = {
                **self.env, **{setting: str(value) for setting, value in self.settings.items()},
                **{variable: str(value) for variable, value in (env or {}).items()},
                **({"Q_CLUSTER_NAME": cluster} if cluster != "default" else {}),
            }
            with open(self.log_path(name), "wb") as log:
                # A session of its own: teardown (or a test) can stop the cluster and every worker it forked.
                self.processes[name] = subprocess.Popen(
                    [sys.executable, *(program or ["manage.py", "qcluster"])], cwd=REPO, env=process_env,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=_stop_with_parent,
                )
        for name in names:
            process = self.processes[name]
            log = self.log_path(name)
            wait_until(lambda: process.poll() is not None or "running." in log.read_text(),  # noqa: B023 (called now)
                       timeout=WORKER_START_TIMEOUT, interval=0.2, message=f"the {name} cluster to start")
            if process.poll() is not None:
                raise AssertionError(f"qcluster {name} exited at start:\n{self.log_text()}")

    def pids(self, name: str) -> set[int]:
        """The cluster's own process and every process it forked (sentinel, pusher, workers, monitor)."""
        group = self.processes[name].pid
        return {int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _process_group(int(pid)) == group}

    def kill(self, name: str) -> None:
        """SIGKILL the whole cluster at once, as a lost machine or the OOM killer would: no clean-up runs."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        wait_until(lambda: not self.pids(name), timeout=10, message=f"every process of {name} to be gone")

    def stop(self) -> None:
        # SIGTERM to the cluster's own process: it stops its sentinel and workers in order.
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            # Whatever it forked and left behind goes with its session.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=5)


def _process_group(pid: int) -> int | None:
    """The process group of a live process; None once it has exited (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, _parent, group = stat.rpartition(")")[2].split()[:3]
    return None if state in ("Z", "X") else int(group)
