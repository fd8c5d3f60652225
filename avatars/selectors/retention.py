"""Which avatars' photos are due to be forgotten, and until when they are kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import (
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
)

from avatars.models import Avatar, Photo, TrainingJob


def avatar_list_failed_with_photos(*, failed_before: datetime) -> QuerySet[Avatar]:
    """Avatars whose last training failed for good before `failed_before`, not started again,
    with uploaded photos still stored."""
    return (
        Avatar.objects.filter(status=Avatar.Status.FAILED, photos_deleted_at__isnull=True)
        .annotate(failed_at=Max("training_jobs__finished_at", filter=Q(training_jobs__status=TrainingJob.Status.FAILED)))
        .filter(failed_at__lt=failed_before)
        .order_by("failed_at")
    )


def avatar_failed_photos_kept_until(*, avatar: Avatar) -> datetime | None:
    """When a failed avatar's photos will be deleted unless the person starts it again."""
    if avatar.status != Avatar.Status.FAILED or avatar.photos_deleted_at is not None:
        return None
    failed_at = avatar.training_jobs.filter(status=TrainingJob.Status.FAILED).aggregate(at=Max("finished_at"))["at"]
    if failed_at is None:
        return None
    return failed_at + timedelta(days=settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS)


def avatar_list_unpaid_with_photos(*, last_upload_before: datetime) -> QuerySet[Avatar]:
    """Avatars never paid for (still collecting, never trained) whose last kept photo arrived
    before `last_upload_before`."""
    return (
        Avatar.objects.filter(status=Avatar.Status.COLLECTING)
        .exclude(Exists(TrainingJob.objects.filter(avatar=OuterRef("pk"))))
        .annotate(last_upload_at=Max("photos__created_at", filter=~Q(photos__status=Photo.Status.REMOVED)))
        .filter(last_upload_at__lt=last_upload_before)
        .order_by("last_upload_at")
    )


def avatar_unpaid_photos_kept_until(*, avatar: Avatar) -> datetime | None:
    """When the photos of an avatar never paid for will be deleted if it stays unpaid:
    LIKENESS_UNPAID_PHOTOS_KEEP_DAYS after the last one arrived."""
    if avatar.status != Avatar.Status.COLLECTING or avatar.training_jobs.exists():
        return None
    last_upload_at = avatar.photos.exclude(status=Photo.Status.REMOVED).aggregate(at=Max("created_at"))["at"]
    if last_upload_at is None:
        return None
    return last_upload_at + timedelta(days=settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS)
