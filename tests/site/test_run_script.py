"""scripts/run.sh as a person runs it: a key of its own, no DEBUG, and a SIGTERM (what Ctrl-C and
a service manager send) stops the site and both job clusters within 30 seconds, leaving no process.

It runs on this test's interpreter's virtualenv as it is (LIKENESS_SKIP_INSTALL: scripts/setup.sh
would reinstall into it) and a folder of its own (LIKENESS_VAR_DIR), on a free port.
"""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(root: int) -> set[int]:
    """Every process started under `root`, whatever session or group it moved to."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, waiting = set(), [root]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.add(child)
            waiting.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# One SIGTERM to the script (a service manager), and Ctrl-C pressed twice in its terminal (SIGINT to
# its foreground process group, which holds the script and whatever it runs in the foreground,
# not the site or the clusters: they have groups of their own). The second Ctrl-C arrives while
# the script stops its children, and must not end it before them: it once left them all running.
@pytest.mark.parametrize("signals", [[signal.SIGTERM], [signal.SIGINT, signal.SIGINT]], ids=["sigterm", "ctrl-c-twice"])
def test_run_sh_serves_without_debug_and_stops_everything_within_30_seconds_of_sigterm(tmp_path, signals):
    port = _free_port()
    var = tmp_path / "var"
    env = {
        **{name: value for name, value in os.environ.items()
           if not name.startswith(("DJANGO_", "LIKENESS_")) and name not in ("DATABASE_URL", "REDIS_URL")},
        "LIKENESS_VENV": sys.prefix,
        "LIKENESS_SKIP_INSTALL": "1",
        "LIKENESS_ADDR": f"127.0.0.1:{port}",
        "LIKENESS_VAR_DIR": str(var),
    }
    script = subprocess.Popen(
        ["scripts/run.sh"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # a terminal's foreground group of its own
    )
    try:
        summary = []
        deadline = time.monotonic() + 240
        for line in script.stdout:
            summary.append(line)
            if "Ctrl-C stops it." in line or time.monotonic() > deadline:
                break
        assert "Likeness is running." in "".join(summary), "".join(summary) + (var / "install.log").read_text()
        started = _descendants(script.pid)

        home_status, _ = _get(f"http://127.0.0.1:{port}/")
        missing_status, missing_page = _get(f"http://127.0.0.1:{port}/no-such-page/")
        css_status, _ = _get(f"http://127.0.0.1:{port}/static/css/site.css")
        key = var / "secret-key"

        assert home_status == 200 and css_status == 200
        # The site's own page: no DEBUG, so no settings, paths or URL map.
        assert missing_status == 404 and "There is nothing here" in missing_page and "URLconf" not in missing_page
        assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) >= 50

        stopping = time.monotonic()
        for sent in signals:
            if sent == signal.SIGINT:
                os.killpg(script.pid, sent)  # as the terminal delivers Ctrl-C
            else:
                script.send_signal(sent)
            time.sleep(0.3)
        script.wait(timeout=30)
        left = sorted(pid for pid in started if _alive(pid))
        took = time.monotonic() - stopping
    finally:
        if script.poll() is None:
            script.kill()
        for pid in _descendants(script.pid) | locals().get("started", set()):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    # The site and the two clusters: their sentinels, workers, monitors and pushers.
    assert len(started) >= 3
    assert left == [], f"still running {took:.0f} s after {signals}: {left}"
    assert took < 30
