"""Caps on what one person can create: open avatars at once, style requests a day; page and API alike."""

import threading
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import close_old_connections, connection
from django.urls import reverse
from django.utils import timezone

from avatars.models import Avatar
from avatars.services import OpenAvatarsLimitReached, avatar_create
from styles.models import TemplateRequest
from styles.services import TemplateRequestLimitReached, template_request_create
from tests.api_clients import error_of
from tests.factories import AvatarFactory, PhotoFactory, TemplateRequestFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_open_avatars(settings):
    settings.LIKENESS_MAX_OPEN_AVATARS = 2


def test_a_third_open_avatar_is_refused_through_the_api_and_the_first_two_keep_their_photos(
    api, user, two_open_avatars
):
    first, second = AvatarFactory(user=user), AvatarFactory(user=user)
    photo = PhotoFactory(avatar=first)

    refused = api.post("/api/v1/avatars/", {"name": "Third"}, format="json")

    assert refused.status_code == 409
    error = error_of(refused)
    assert error["code"] == "limit_reached"
    assert "2 avatars not yet paid for" in error["message"]
    assert set(Avatar.objects.filter(user=user)) == {first, second}
    assert first.photos.get() == photo


def test_a_third_open_avatar_is_refused_on_the_page_with_the_reason(client, user, two_open_avatars):
    AvatarFactory.create_batch(2, user=user)
    client.force_login(user)

    # The home page's form posts it: the refusal goes back there (portrait_site.core.pages).
    home = reverse("avatars:home")
    response = client.post(reverse("avatars:create"), {"name": "Third"}, HTTP_REFERER=f"http://testserver{home}")

    assert response.status_code == 302 and response["Location"] == home
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "You already have 2 avatars not yet paid for, the most at once. Pay for one or delete one to start another."
    ]
    assert Avatar.objects.filter(user=user).count() == 2


def test_paid_avatars_and_other_peoples_do_not_count(api, user, two_open_avatars):
    AvatarFactory(user=user, status=Avatar.Status.PAID)
    AvatarFactory(user=user, status=Avatar.Status.READY)
    AvatarFactory.create_batch(2)

    statuses = [api.post("/api/v1/avatars/", {}, format="json").status_code for _ in range(3)]

    assert statuses == [201, 201, 409]


@pytest.fixture
def two_requests_a_day(settings):
    settings.LIKENESS_TEMPLATE_REQUESTS_PER_DAY = 2


def test_a_third_style_request_in_a_day_is_refused_through_the_api(api, user, two_requests_a_day):
    statuses = [
        api.post("/api/v1/template-requests/", {"title": f"Style {n}"}, format="json").status_code
        for n in range(3)
    ]

    assert statuses == [201, 201, 429]
    refused = api.post("/api/v1/template-requests/", {"title": "Style 4"}, format="json")
    error = error_of(refused)
    assert error["code"] == "limit_reached"
    assert "2 styles in the last 24 hours" in error["message"]
    assert sorted(TemplateRequest.objects.values_list("title", flat=True)) == ["Style 0", "Style 1"]


def test_a_third_style_request_in_a_day_is_refused_on_the_page(client, user, two_requests_a_day):
    TemplateRequestFactory.create_batch(2, author=user)
    client.force_login(user)

    response = client.post(reverse("styles:requests"), {"title": "Rooftop at dusk"})

    assert response.status_code == 200
    assert "2 styles in the last 24 hours" in response.content.decode()
    assert not TemplateRequest.objects.filter(title="Rooftop at dusk").exists()


def test_requests_older_than_a_day_no_longer_count(api, user, two_requests_a_day):
    old = TemplateRequestFactory.create_batch(2, author=user)
    TemplateRequest.objects.filter(pk__in=[r.pk for r in old]).update(
        created_at=timezone.now() - timedelta(days=1, minutes=1)
    )

    assert api.post("/api/v1/template-requests/", {"title": "Fresh"}, format="json").status_code == 201


def run_at_once(action, times: int) -> tuple[list, list]:
    """Runs `action` in `times` threads released together; returns (results, errors)."""
    start = threading.Barrier(times)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(action())
        except Exception as error:  # noqa: BLE001 - the caller sorts them
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_avatars_created_at_once_still_stop_at_the_cap(settings):
    settings.LIKENESS_MAX_OPEN_AVATARS = 2
    user = UserFactory()

    created, errors = run_at_once(lambda: avatar_create(user=user), times=6)

    assert len(created) == 2
    assert len(errors) == 4 and all(isinstance(error, OpenAvatarsLimitReached) for error in errors), errors
    assert Avatar.objects.filter(user=user).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_style_requests_sent_at_once_still_stop_at_the_cap(settings):
    settings.LIKENESS_TEMPLATE_REQUESTS_PER_DAY = 2
    author = UserFactory()
    titles = iter(f"Style {n}" for n in range(6))

    created, errors = run_at_once(lambda: template_request_create(author=author, title=next(titles)), times=6)

    assert len(created) == 2
    assert len(errors) == 4 and all(isinstance(error, TemplateRequestLimitReached) for error in errors), errors
    assert TemplateRequest.objects.filter(author=author).count() == 2
