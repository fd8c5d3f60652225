"""Deleting an avatar's things, by the person (with a receipt) or by the operator."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from accounts.receipt_files import receipt_email_send_to_user
from accounts.receipts import deletion_receipt_create, receipt_counts
from avatars import selectors
from avatars.models import Avatar, Photo, Portrait
from portrait_site.core.files import storage_delete_files
from styles.models import StyleExample


def _style_example_file_names(made_from: Q) -> list[str]:
    return list(StyleExample.objects.filter(made_from).exclude(image="").values_list("image", flat=True))


def portrait_delete(*, portrait: Portrait) -> dict:
    with transaction.atomic():
        portrait = Portrait.objects.select_for_update().get(pk=portrait.pk)
        # Style examples made from it go with it (the person's consent was to this portrait).
        names = portrait.stored_file_names + _style_example_file_names(Q(source_portrait=portrait))
        Portrait.objects.filter(more_like_me_of=portrait).update(more_like_me_of=portrait.more_like_me_of)
        portrait.delete()
        transaction.on_commit(lambda: storage_delete_files(names))
    return {"portraits": 1, "photos": 0, "lora_files": 0, "files": names}


def photos_delete_files(*, avatar: Avatar) -> list[str]:
    """Delete the avatar's uploaded photos from storage, keeping the verdict rows (no files, no embeddings)."""
    photos = list(avatar.photos.exclude(image=""))
    names = [p.image.name for p in photos]
    avatar.photos.update(image="", refused_thumbnail=b"", embedding=None)
    transaction.on_commit(lambda: storage_delete_files(names))
    return names


def avatar_delete(*, avatar: Avatar) -> dict:
    """Delete an avatar with its photos, LoRA file and portraits. Orders stay (bookkeeping)."""
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=avatar.pk)
        for job in [*avatar.training_jobs.filter(status__in=selectors.ACTIVE_JOB_STATUSES),
                    *avatar.render_jobs.filter(status__in=selectors.ACTIVE_JOB_STATUSES)]:
            job.transition_to(job.Status.CANCELLED)
            job.save(update_fields=["status"])
        portraits = list(avatar.portraits.all())
        portrait_names = [name for portrait in portraits for name in portrait.stored_file_names]
        portrait_names += _style_example_file_names(Q(source_portrait__avatar=avatar))
        photo_names = [p.image.name for p in avatar.photos.exclude(image="")]
        photo_count = avatar.photos.count()
        lora_names = [avatar.lora_file.name] if avatar.lora_file else []
        summary = {
            "avatars": 1,
            "photos": photo_count,
            "portraits": len(portraits),
            "lora_files": len(lora_names),
            "files": portrait_names + photo_names + lora_names,
        }
        avatar.orders.update(avatar=None)
        avatar.delete()
        transaction.on_commit(lambda: storage_delete_files(summary["files"]))
    return summary


def avatar_delete_with_receipt(*, user, avatar: Avatar):
    """Delete one of the user's avatars (photos, LoRA file, portraits) and write what went."""
    with transaction.atomic():
        name = avatar.name
        removed = receipt_counts(avatar_delete(avatar=avatar))
        removed["avatar_names"] = [name]
        return deletion_receipt_create(email=user.email, scope="avatar", removed=removed)


def portrait_delete_with_receipt(*, user, portrait: Portrait):
    with transaction.atomic():
        removed = receipt_counts(portrait_delete(portrait=portrait))
        return deletion_receipt_create(email=user.email, scope="portrait", removed=removed)


def avatar_delete_by_operator(*, avatar: Avatar):
    """The admin's deletion of an avatar: the person's own deletion, its receipt mailed to them,
    since they were not there to see it."""
    with transaction.atomic():
        user = avatar.user
        receipt = avatar_delete_with_receipt(user=user, avatar=avatar)
        transaction.on_commit(lambda: receipt_email_send_to_user(receipt=receipt, user=user))
    return receipt


def portrait_delete_by_operator(*, portrait: Portrait):
    with transaction.atomic():
        user = portrait.avatar.user
        receipt = portrait_delete_with_receipt(user=user, portrait=portrait)
        transaction.on_commit(lambda: receipt_email_send_to_user(receipt=receipt, user=user))
    return receipt


def photo_delete_by_operator(*, photo: Photo) -> list[str]:
    """Delete an uploaded photo's row and its file (the admin). The person's own removal,
    photo_remove, keeps the row as the set's history while the set is collected."""
    with transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo.pk)
        names = [photo.image.name] if photo.image else []
        photo.delete()
        transaction.on_commit(lambda: storage_delete_files(names))
    return names
