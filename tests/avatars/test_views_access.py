"""Every avatar page and file is its owner's alone: others get a 404, anonymous users the sign-in page."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from avatars.models import Avatar
from tests.factories import AvatarFactory, PhotoFactory, PortraitFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned():
    avatar = AvatarFactory(status=Avatar.Status.READY)
    photo = PhotoFactory(avatar=avatar, image=ContentFile(b"jpeg bytes", name="p.jpg"))
    portrait = PortraitFactory(avatar=avatar, image__data=b"png bytes")
    return avatar, photo, portrait


def object_urls(avatar, photo, portrait):
    a, p = avatar.public_id, portrait.public_id
    return [
        ("get", reverse("avatars:detail", args=[a])),
        ("post", reverse("avatars:photo_upload", args=[a])),
        ("post", reverse("avatars:photo_remove", args=[a, photo.pk])),
        ("get", reverse("avatars:photo_image", args=[a, photo.pk])),
        ("post", reverse("avatars:templates_choose", args=[a])),
        ("get", reverse("avatars:progress", args=[a])),
        ("post", reverse("avatars:render_more", args=[a])),
        ("post", reverse("avatars:reopen", args=[a])),
        ("get", reverse("avatars:portrait_detail", args=[p])),
        ("get", reverse("avatars:portrait_image", args=[p])),
        ("get", reverse("avatars:portrait_download", args=[p])),
        ("post", reverse("avatars:portrait_more_like_me", args=[p])),
        ("post", reverse("avatars:portrait_reroll", args=[p])),
    ]


def test_another_user_gets_404_on_every_avatar_url(client, owned):
    client.force_login(UserFactory())
    for method, url in object_urls(*owned):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)


def test_anonymous_users_are_sent_to_sign_in(client, owned):
    for method, url in object_urls(*owned):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], (method, url)


def test_the_owner_gets_the_portrait_privately_and_downloads_count(client, owned):
    avatar, _, portrait = owned
    client.force_login(avatar.user)

    image = client.get(reverse("avatars:portrait_image", args=[portrait.public_id]))
    download = client.get(reverse("avatars:portrait_download", args=[portrait.public_id]))

    assert image.status_code == 200 and b"".join(image.streaming_content) == b"png bytes"
    assert image["Cache-Control"] == "private, no-store"
    assert download["Content-Disposition"].startswith("attachment;")
    portrait.refresh_from_db()
    assert portrait.download_count == 1


def test_more_like_me_queues_a_render_from_the_portrait(client, owned, django_capture_on_commit_callbacks):
    avatar, _, portrait = owned
    client.force_login(avatar.user)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("avatars:portrait_more_like_me", args=[portrait.public_id]))

    job = avatar.render_jobs.get()
    assert job.kind == "more_like_me" and job.source_portrait == portrait and job.template == portrait.template


def test_more_like_me_is_refused_with_a_reason_when_the_avatar_is_not_ready(client, owned):
    avatar, _, portrait = owned
    Avatar.objects.filter(pk=avatar.pk).update(status=Avatar.Status.FAILED)
    client.force_login(avatar.user)

    response = client.post(reverse("avatars:portrait_more_like_me", args=[portrait.public_id]), follow=True)

    assert avatar.render_jobs.count() == 0
    assert "no longer ready" in response.content.decode()


def test_template_choice_only_takes_published_templates(client):
    avatar = AvatarFactory()
    published, hidden = StyleTemplateFactory(), StyleTemplateFactory(is_published=False)
    client.force_login(avatar.user)

    client.post(reverse("avatars:templates_choose", args=[avatar.public_id]),
                {"templates": [published.pk, hidden.pk]})

    assert list(avatar.templates.all()) == [published]


def test_a_failed_avatar_can_be_reopened_and_paid_for_again(client, settings):
    from orders.services import order_create_for_avatar

    settings.LIKENESS_MIN_PHOTOS = 3
    avatar = AvatarFactory(status=Avatar.Status.FAILED)
    PhotoFactory.create_batch(3, avatar=avatar)
    client.force_login(avatar.user)

    client.post(reverse("avatars:reopen", args=[avatar.public_id]))

    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.COLLECTING
    assert order_create_for_avatar(user=avatar.user, avatar=avatar).status == "pending"


def test_only_a_failed_avatar_can_be_reopened(client, owned):
    avatar, _, _ = owned
    client.force_login(avatar.user)

    response = client.post(reverse("avatars:reopen", args=[avatar.public_id]), follow=True)

    assert Avatar.objects.get(pk=avatar.pk).status == Avatar.Status.READY
    assert "Only an avatar whose training failed" in response.content.decode()
