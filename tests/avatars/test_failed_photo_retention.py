"""After a training fails for good, the photos stay a few days for another try, then go."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import Notice
from accounts.notices import notice_text
from avatars import services
from avatars.models import Avatar, Photo, TrainingJob
from tests.factories import AvatarFactory, PhotoFactory

pytestmark = pytest.mark.django_db

DAYS = 7


@pytest.fixture(autouse=True)
def keep_days(settings):
    settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS = DAYS


def failed_avatar(days_ago: float) -> Avatar:
    avatar = AvatarFactory(status=Avatar.Status.FAILED, name="Summer")
    for index in range(3):
        PhotoFactory(avatar=avatar, image=ContentFile(b"jpeg bytes", name=f"p{index}.jpg"))
    PhotoFactory(avatar=avatar, status=Photo.Status.REJECTED, image=ContentFile(b"jpeg", name="blurry.jpg"))
    TrainingJob.objects.create(
        avatar=avatar, status="failed", finished_at=timezone.now() - timedelta(days=days_ago)
    )
    return avatar


def stored(avatar) -> list[str]:
    return [photo.image.name for photo in avatar.photos.exclude(image="") if default_storage.exists(photo.image.name)]


def test_photos_of_a_failure_older_than_the_keep_days_are_deleted_and_the_owner_told(
    django_capture_on_commit_callbacks,
):
    old = failed_avatar(days_ago=DAYS + 0.5)
    recent = failed_avatar(days_ago=DAYS - 0.5)
    names = [photo.image.name for photo in old.photos.all()]

    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_photos_after_failure() == 1

    old.refresh_from_db()
    assert old.photos_deleted_at is not None
    assert not any(default_storage.exists(name) for name in names)
    assert set(old.photos.values_list("status", "image", "embedding")) == {(Photo.Status.REMOVED, "", None)}
    assert len(stored(recent)) == 4
    [notice] = Notice.objects.filter(user=old.user)
    assert "Summer" in notice_text(notice) and f"{DAYS} days" in notice_text(notice)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_photos_after_failure() == 0  # done once


def test_an_avatar_started_again_keeps_its_photos_and_a_later_failure_starts_the_clock_anew(
    django_capture_on_commit_callbacks,
):
    avatar = failed_avatar(days_ago=DAYS + 1)
    services.avatar_reopen(avatar=avatar)
    assert services.avatars_forget_photos_after_failure() == 0
    assert len(stored(avatar)) == 4

    Avatar.objects.filter(pk=avatar.pk).update(status=Avatar.Status.FAILED, photos_deleted_at=timezone.now())
    services.avatar_reopen(avatar=avatar)
    Avatar.objects.filter(pk=avatar.pk).update(status=Avatar.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_photos_after_failure() == 1


def test_the_failed_avatar_page_says_until_when_the_photos_are_kept(client, django_capture_on_commit_callbacks):
    avatar = failed_avatar(days_ago=2)
    client.force_login(avatar.user)
    kept_until = timezone.localtime(timezone.now() + timedelta(days=DAYS - 2)).strftime("%-d %B %Y")

    page = client.get(reverse("avatars:detail", args=[avatar.public_id])).content.decode()
    assert f"We keep your photos until {kept_until}" in page

    with django_capture_on_commit_callbacks(execute=True):
        services.avatars_forget_photos_after_failure(now=timezone.now() + timedelta(days=DAYS))
    page = client.get(reverse("avatars:detail", args=[avatar.public_id])).content.decode()
    assert "Your photos have been deleted. Upload new ones to try again." in page
    assert "We keep your photos" not in page


def test_the_sweep_is_scheduled_hourly_by_a_migration():
    schedule = Schedule.objects.get(func="avatars.tasks.avatars_forget_photos_after_failure")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)
