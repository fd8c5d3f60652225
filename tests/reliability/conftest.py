"""Fault tests: real worker processes, a real database, the tiny engine.

Fixtures
  workers           a QWorkers for this test (nothing started yet), stopped after it; logs printed on failure
  share_settings    share_settings(NAME=value, ...) sets a setting here AND in every worker started after it;
                    the small-engine settings are shared from the start
  paid_avatar()     an avatar with three real photos of one person and one template, paid for locally
  trained_avatar    a paid avatar trained and rendered right here (inline jobs), ready for more renders
"""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars import services
from avatars.models import Avatar
from orders.services import order_create_for_avatar, order_fulfil
from tests.conftest import test_failed
from tests.factories import StyleTemplateFactory, UserFactory
from tests.workers import QWorkers, worker_environment

# Enough for the tiny engine to train and render in seconds; every test starts from these.
SMALL_ENGINE = {
    "LIKENESS_MIN_PHOTOS": 3,
    "LIKENESS_TRAIN_MAX_SAMPLES": 4,
    "LIKENESS_VALIDATE_EVERY": 0,
    "LIKENESS_CANDIDATES_PER_TEMPLATE": 1,
    "LIKENESS_PORTRAITS_PER_STYLE": 1,
    "LIKENESS_MAX_REROLLS": 0,
    "STRIPE_SECRET_KEY": "",
    "LIKENESS_LOCAL_PAYMENTS": True,
    "LIKENESS_RUN_JOBS_INLINE": False,
}
PHOTOS = ("obama-1.jpg", "obama-2.jpg", "obama-3.jpg")


@pytest.fixture
def worker_settings() -> dict:
    return {}


@pytest.fixture
def workers(transactional_db, worker_settings, private_media, tmp_path, request):
    workers = QWorkers(env=worker_environment(media_root=private_media, overrides={}), log_dir=tmp_path,
                       settings=worker_settings)
    try:
        yield workers
    finally:
        workers.stop()
        if test_failed(request):
            print(workers.log_text())


@pytest.fixture
def share_settings(settings, worker_settings):
    def share(**values):
        for name, value in values.items():
            setattr(settings, name, value)
            worker_settings[name] = value

    share(**SMALL_ENGINE)
    return share


def _upload(avatar: Avatar, path: Path) -> None:
    services.photo_add(avatar=avatar, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()))


@pytest.fixture
def paid_avatar(faces_dir, share_settings):
    """Makes a paid avatar; its training job is queued (or, with inline jobs, already run) on return."""

    def make(*, template=None) -> Avatar:
        avatar = services.avatar_create(user=UserFactory(), subject_class="man")
        for name in PHOTOS:
            _upload(avatar, faces_dir / "obama" / name)
        services.avatar_templates_set(avatar=avatar, templates=[template or StyleTemplateFactory(steps=1)])
        order = order_create_for_avatar(user=avatar.user, avatar=avatar)
        order_fulfil(order_id=order.pk, via="local")
        return Avatar.objects.get(pk=avatar.pk)

    return make


@pytest.fixture
def trained_avatar(paid_avatar, settings) -> Avatar:
    settings.LIKENESS_RUN_JOBS_INLINE = True
    try:
        avatar = paid_avatar()
    finally:
        settings.LIKENESS_RUN_JOBS_INLINE = False
    assert avatar.status == Avatar.Status.READY, avatar.training_jobs.get().error
    return avatar
