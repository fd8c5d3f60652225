"""Photos forgotten on schedule: after a build failed for good, and when nobody paid."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.notices import notice_create
from avatars import selectors
from avatars.models import Avatar, Photo
from avatars.services.photos import photo_mark_removed
from portrait_site.core.files import storage_delete_files


def avatars_forget_photos_after_failure(*, now=None) -> int:
    """Delete the photos of avatars whose training failed for good more than
    LIKENESS_FAILED_PHOTOS_KEEP_DAYS ago and that nobody started again; tell their owners."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS)
    forgotten = 0
    for avatar_id in list(selectors.avatar_list_failed_with_photos(failed_before=cutoff).values_list("pk", flat=True)):
        with transaction.atomic():
            avatar = Avatar.objects.select_for_update().select_related("user").get(pk=avatar_id)
            if avatar.status != Avatar.Status.FAILED or avatar.photos_deleted_at is not None:
                continue  # started again, or deleted, since the list was read
            names = [photo_mark_removed(photo) for photo in avatar.photos.exclude(status=Photo.Status.REMOVED)]
            avatar.photos_deleted_at = now
            avatar.save(update_fields=["photos_deleted_at"])
            notice_create(
                user=avatar.user,
                message=gettext_noop(
                    "We deleted the photos of “%(avatar)s”: its training failed and it was not started "
                    "again within %(days)s days. Upload new ones to try again."
                ),
                params={"avatar": avatar.name, "days": settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS},
            )
            transaction.on_commit(lambda names=[name for name in names if name]: storage_delete_files(names))
        forgotten += 1
    return forgotten


def avatars_forget_unpaid_photos(*, now=None) -> int:
    """Delete the photos, rows and files, of avatars never paid for whose last photo arrived
    more than LIKENESS_UNPAID_PHOTOS_KEEP_DAYS ago; tell their owners. The avatar stays, empty,
    ready for new photos."""
    now = now or timezone.now()
    keep_days = settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS
    cutoff = now - timedelta(days=keep_days)
    forgotten = 0
    for avatar_id in list(selectors.avatar_list_unpaid_with_photos(last_upload_before=cutoff).values_list("pk", flat=True)):
        with transaction.atomic():
            avatar = Avatar.objects.select_for_update().select_related("user").get(pk=avatar_id)
            # Paid for, or given a new photo, since the list was read: the photos stay.
            if not selectors.avatar_list_unpaid_with_photos(last_upload_before=cutoff).filter(pk=avatar.pk).exists():
                continue
            photos = avatar.photos.all()
            names = [name for name in photos.values_list("image", flat=True) if name]
            photos.delete()
            notice_create(
                user=avatar.user,
                message=gettext_noop(
                    "We deleted the photos of “%(name)s”: it was not paid for within %(days)s days of the "
                    "last upload. Upload photos again whenever you like."
                ),
                params={"name": avatar.name, "days": keep_days},
            )
            transaction.on_commit(lambda names=names: storage_delete_files(names))
        forgotten += 1
    return forgotten
