"""The browser-test harness: Debian's Chromium through Playwright, pytest-django's live
server, and real django-q2 workers against the same test database.

Fixtures
  browser                     one Chromium for the session
  page_desktop / page_phone   a fresh page at 1280x800 / 375x812 (touch, mobile), base_url = live server
  page_phone_zh               the phone page with the browser's language set to zh-CN
  page                        parametrized: the test runs once at each of the two sizes
  screenshot(page, name)      full-page PNG under test-artifacts/screenshots/<test>/<nn>-<name>.png
  worker_settings             {SETTING_NAME: value}, applied to the live server's settings AND, as
                              environment variables of the same names, to the workers; override it
                              in a test module (e.g. {"LIKENESS_MIN_PHOTOS": 3})
  live_site                   the live server with worker_settings applied
  q_workers                   a default and a "gpu" qcluster process for this test, stopped after it
  wait_until(check, ...)      polls check() until it returns something truthy (no sleeps to tune)
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import test_failed
from tests.workers import QWorkers, database_url, wait_until

# Playwright's sync API runs an asyncio event loop in the test's thread. Django sees that
# loop and refuses ORM calls from the same thread (SynchronousOnlyOperation), although
# nothing here is async: the browser is driven from this thread one call at a time and the
# live server answers from its own threads. So the guard is off for the browser tests.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

REPO = Path(__file__).resolve().parents[2]
# The test command runs the PostgreSQL pass beside the SQLite one: each keeps its own pictures.
SCREENSHOTS = REPO / "test-artifacts" / (
    "screenshots-postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "screenshots"
)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}


def pytest_configure(config):
    """Give SQLite a test database file instead of memory: the worker processes must open it too.

    This runs when the browser tests are collected, before any database is created, so the
    whole session shares the one file (a session-scoped fixture override would come too late
    whenever another directory's test sets the database up first).
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        test_settings = database.setdefault("TEST", {})
        if not test_settings.get("NAME"):
            test_settings["NAME"] = str(REPO / "var" / f"test-likeness-{os.getpid()}.sqlite3")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


@pytest.fixture(name="wait_until")
def wait_until_fixture():
    return wait_until


# --- Browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's Chromium is missing at {CHROMIUM} (apt-get install chromium)")
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


def _open_page(browser, live_server, viewport: str, **context_options):
    context = browser.new_context(base_url=live_server.url, **VIEWPORTS[viewport], **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.viewport_name = viewport
    # Our CSP reports inline scripts and styles as console errors: each one is a defect.
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(
        f"{message.text} ({message.location.get('url', '')})"))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.on("response", lambda response: response.status >= 400 and page.console_errors.append(
        f"{response.status} {response.request.method} {response.url}"))
    return context, page


def _close_page(context, page, request):
    errors = list(page.console_errors)
    context.close()
    if errors and not test_failed(request):
        pytest.fail("The browser console reported errors:\n" + "\n".join(errors))


@pytest.fixture
def page_desktop(browser, live_site, request):
    context, page = _open_page(browser, live_site, "desktop")
    yield page
    _close_page(context, page, request)


@pytest.fixture
def page_phone(browser, live_site, request):
    context, page = _open_page(browser, live_site, "phone")
    yield page
    _close_page(context, page, request)


@pytest.fixture
def page_phone_zh(browser, live_site, request):
    """A phone whose browser asks for Simplified Chinese (navigator language and Accept-Language zh-CN)."""
    context, page = _open_page(browser, live_site, "phone", locale="zh-CN",
                               extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    yield page
    _close_page(context, page, request)


@pytest.fixture(params=["desktop", "phone"])
def page(request, live_site):
    return request.getfixturevalue(f"page_{request.param}")


@pytest.fixture
def screenshot(request):
    folder = SCREENSHOTS / _slug(request.node.nodeid.removeprefix("tests/browser/"))
    taken = []

    def take(page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(taken) + 1:02d}-{_slug(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take


# --- Live server and workers -------------------------------------------------------------------


@pytest.fixture
def worker_settings() -> dict:
    return {}


@pytest.fixture
def live_site(live_server, transactional_db, settings, worker_settings):
    # The address the mails' links are built from (password reset, receipts) is the site's own.
    settings.SITE_URL = live_server.url
    for name, value in worker_settings.items():
        setattr(settings, name, value)
    return live_server


@pytest.fixture
def q_workers(live_site, settings, worker_settings, tmp_path, request):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portrait_site.settings",
        "DATABASE_URL": database_url(),
        "LIKENESS_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LIKENESS_RUN_JOBS_INLINE": "false",
        "LIKENESS_SITE_URL": live_site.url,
        "LIKENESS_CPU_WORKERS": "1",
        "LIKENESS_GPU_WORKERS": "1",
        "PYTHONUNBUFFERED": "1",
        # The GPU worker keeps its LoRA copies under the temporary folder and prunes those its
        # database has no render for: a folder of this test's own, so a worker of another test
        # run on the same machine (another database) never deletes this one's.
        "TMPDIR": str(tmp_path),
        **{name: str(value) for name, value in worker_settings.items()},
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    workers = QWorkers(env=env, log_dir=tmp_path)
    try:
        workers.start()
        yield workers
    finally:
        workers.stop()
        if test_failed(request):
            print(workers.log_text())
