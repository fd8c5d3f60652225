"""Fixtures every test gets: private media of its own, a fast password hasher, a fresh cache, the test faces, the small engine."""

from pathlib import Path

import pytest
from django.db import connection

FACES_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "testdata" / "faces"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Each test gets its own private media folder, so file assertions see only its files."""
    media_root = tmp_path / "private-media"
    media_root.mkdir()
    if settings.LIKENESS_STORAGE == "local":
        settings.MEDIA_ROOT = media_root
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(media_root), "base_url": None},
            },
        }
    return media_root


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Fixtures read the outcome in their teardown (test_failed): a worker's log or a page's
    # screenshot is kept only when it helps.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def test_failed(request) -> bool:
    """Whether the running test failed in its setup or its call, for a fixture's teardown."""
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # PBKDF2's deliberate slowness protects real passwords; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def faces_dir() -> Path:
    if not FACES_DIR.is_dir():
        pytest.fail(f"The shared face photos are missing: {FACES_DIR}")
    return FACES_DIR


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need row locks and concurrent writers: skip them on SQLite."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run by the test command's PostgreSQL pass)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def small_engine(settings):
    """A whole build in seconds: three photos, two training steps, one candidate per template,
    jobs run inline, the local test payments."""
    settings.LIKENESS_MIN_PHOTOS = 3
    settings.LIKENESS_TRAIN_MAX_SAMPLES = 8
    settings.LIKENESS_VALIDATE_EVERY = 0
    settings.LIKENESS_CANDIDATES_PER_TEMPLATE = 1
    # One portrait per style keeps the suite fast; the tests of several portraits set their own.
    settings.LIKENESS_PORTRAITS_PER_STYLE = 1
    settings.LIKENESS_MAX_REROLLS = 0
    settings.LIKENESS_RUN_JOBS_INLINE = True
    # The jobs run inline, inside the test's transaction: a heartbeat from its own thread and
    # connection could not see the uncommitted job, and on a file database it would wait out
    # SQLite's 30 s busy timeout on that transaction's lock before the job could finish.
    # tests/avatars/test_job_heartbeat.py covers the heartbeat.
    settings.LIKENESS_HEARTBEAT_SECONDS = 3600
    settings.STRIPE_SECRET_KEY = ""
    settings.LIKENESS_LOCAL_PAYMENTS = True


@pytest.fixture
def session_read_queries(settings) -> int:
    """Queries a signed-in request spends reading its session: none where sessions are cached."""
    return 0 if settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db" else 1


@pytest.fixture
def notices_read_queries(settings) -> int:
    """Queries a signed-in page spends on the header's notices once counted: none where the
    count is kept in a shared cache (accounts.notices)."""
    return 0 if settings.LIKENESS_CACHE_SHARED else 1


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
