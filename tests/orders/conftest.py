"""The orders tests' fixtures: local payments, a signed-in person with a ready avatar, GPU tasks queued but not run."""

import pytest
from django_q.models import OrmQ

from tests.factories import AvatarFactory, PhotoFactory, UserFactory
from tests.stripe_fake import fake_stripe  # noqa: F401  (a pytest fixture)

REQUIRED_PHOTOS = 3


@pytest.fixture(autouse=True)
def queued_not_run(settings):
    """GPU work is only queued here: an OrmQ row on the gpu cluster, no worker."""
    settings.LIKENESS_RUN_JOBS_INLINE = False
    settings.LIKENESS_MIN_PHOTOS = REQUIRED_PHOTOS
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def local_payments(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.LIKENESS_LOCAL_PAYMENTS = True


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def ready_avatar(user):
    avatar = AvatarFactory(user=user)
    PhotoFactory.create_batch(REQUIRED_PHOTOS, avatar=avatar)
    return avatar


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def gpu_tasks_queued() -> int:
    return OrmQ.objects.filter(key="gpu").count()
