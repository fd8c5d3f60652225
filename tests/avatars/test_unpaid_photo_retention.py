"""The photos of an avatar never paid for stay a few days after the last upload, then go."""

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
    settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS = DAYS


def unpaid_avatar(last_upload_days_ago: float, **fields) -> Avatar:
    avatar = AvatarFactory(name="Winter", **fields)
    for index in range(3):
        PhotoFactory(avatar=avatar, image=ContentFile(b"jpeg bytes", name=f"p{index}.jpg"))
    PhotoFactory(avatar=avatar, status=Photo.Status.REJECTED, image=ContentFile(b"jpeg", name="blurry.jpg"))
    avatar.photos.update(created_at=timezone.now() - timedelta(days=last_upload_days_ago))
    return avatar


def stored_files(private_media) -> set[str]:
    return {p.relative_to(private_media).as_posix() for p in private_media.rglob("*") if p.is_file()}


def test_photos_of_an_avatar_unpaid_past_the_keep_days_are_deleted_and_the_owner_told(
    django_capture_on_commit_callbacks, private_media
):
    old = unpaid_avatar(last_upload_days_ago=DAYS + 0.5)
    recent = unpaid_avatar(last_upload_days_ago=DAYS - 0.5)
    recent_files = {photo.image.name for photo in recent.photos.all()}

    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_unpaid_photos() == 1

    assert not old.photos.exists()
    assert stored_files(private_media) == recent_files
    assert Avatar.objects.filter(pk=old.pk, status=Avatar.Status.COLLECTING).exists(), "the avatar itself stays"
    [notice] = Notice.objects.filter(user=old.user)
    assert "Winter" in notice_text(notice) and f"{DAYS} days" in notice_text(notice)
    assert not Notice.objects.filter(user=recent.user).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_unpaid_photos() == 0  # done once


def test_one_recent_upload_keeps_the_whole_set(django_capture_on_commit_callbacks):
    avatar = unpaid_avatar(last_upload_days_ago=DAYS + 3)
    PhotoFactory(avatar=avatar, image=ContentFile(b"jpeg", name="new.jpg"))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_unpaid_photos() == 0
    assert avatar.photos.count() == 5


@pytest.mark.parametrize("status", [Avatar.Status.PAID, Avatar.Status.TRAINING, Avatar.Status.READY])
def test_avatars_paid_for_keep_their_photos(status, django_capture_on_commit_callbacks):
    avatar = unpaid_avatar(last_upload_days_ago=DAYS + 3, status=status)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_unpaid_photos() == 0
    assert all(default_storage.exists(photo.image.name) for photo in avatar.photos.all())


def test_an_avatar_reopened_after_a_paid_training_is_not_unpaid(django_capture_on_commit_callbacks):
    avatar = unpaid_avatar(last_upload_days_ago=DAYS + 3)
    TrainingJob.objects.create(avatar=avatar, status="failed", finished_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert services.avatars_forget_unpaid_photos() == 0
    assert avatar.photos.count() == 4


def test_the_upload_page_says_until_when_unpaid_photos_are_kept(client, django_capture_on_commit_callbacks):
    avatar = unpaid_avatar(last_upload_days_ago=2)
    client.force_login(avatar.user)
    kept_until = timezone.localtime(timezone.now() + timedelta(days=DAYS - 2)).strftime("%-d %B %Y")

    page = client.get(reverse("avatars:detail", args=[avatar.public_id])).content.decode()
    assert f"its photos are kept until {kept_until}, {DAYS} days after your last upload" in page

    with django_capture_on_commit_callbacks(execute=True):
        services.avatars_forget_unpaid_photos(now=timezone.now() + timedelta(days=DAYS))
    page = client.get(reverse("avatars:detail", args=[avatar.public_id])).content.decode()
    assert "We deleted the photos of “Winter”" in page
    assert "its photos are kept until" not in page


def test_the_unpaid_sweep_is_scheduled_hourly_by_a_migration():
    schedule = Schedule.objects.get(func="avatars.tasks.avatars_forget_unpaid_photos")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)
