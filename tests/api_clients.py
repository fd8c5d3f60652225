"""The API tests' clients and fixtures, shared by every tests/<app>/api/ folder: each folder's
conftest.py imports the fixtures it uses (pytest finds fixtures through conftest files only)."""

import pytest
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from avatars.models import Avatar
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PhotoFactory,
    PortraitFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    UserFactory,
)
from tests.stripe_fake import fake_stripe  # noqa: F401  (a pytest fixture)

REQUIRED_PHOTOS = 3


@pytest.fixture(autouse=True)
def api_settings(settings):
    settings.LIKENESS_MIN_PHOTOS = REQUIRED_PHOTOS
    settings.LIKENESS_RUN_JOBS_INLINE = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='tests')[1]}")
    return client


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def api(user) -> APIClient:
    """The user's token client: how a mobile app calls."""
    return token_client(user)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def owned(user):
    """One of each object the user owns, for the ownership and anonymity sweeps."""
    template = StyleTemplateFactory()
    collecting = AvatarFactory(user=user)
    photo = PhotoFactory(avatar=collecting)
    ready = AvatarFactory(user=user, status=Avatar.Status.READY)
    portrait = PortraitFactory(avatar=ready, template=template)
    order = OrderFactory(user=user, avatar=collecting)
    return {
        "template": template,
        "avatar": collecting,
        "photo": photo,
        "ready": ready,
        "portrait": portrait,
        "order": order,
        "request": TemplateRequestFactory(author=user),
    }


def error_of(response) -> dict:
    """The error body every API error shares; fails the test when the shape is off."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture
def throttle_rate(monkeypatch):
    """Lowers one throttle scope's rate for the test (DRF reads the rates once, at import)."""
    from rest_framework.throttling import ScopedRateThrottle

    def set_rate(scope: str, rate: str) -> None:
        monkeypatch.setattr(
            ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, scope: rate}
        )

    return set_rate
