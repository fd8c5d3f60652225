"""An avatar's own changes and the refusals avatars' services raise: creating, reopening, choosing styles, recording its refund and its trained weights."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from avatars.models import Avatar
from avatars.services.deletion import photos_delete_files
from portrait_site.core.errors import ApplicationError


class AvatarError(ApplicationError):
    """A request the avatar can't take in its current state; the message is for the user."""

    code = "avatar_state"


class PhotoUploadsThrottled(AvatarError):
    """More photos in the last hour than LIKENESS_PHOTO_UPLOADS_PER_HOUR: each costs the web
    process CPU to check."""

    code = "throttled"
    http_status = 429


class OpenAvatarsLimitReached(AvatarError):
    code = "limit_reached"


def avatar_create(*, user, name: str = "", subject_class: str = Avatar.SubjectClass.PERSON) -> Avatar:
    """Start an avatar; a person has at most LIKENESS_MAX_OPEN_AVATARS not yet paid for at once."""
    name = (name or "").strip()[:80] or "My avatar"
    if subject_class not in Avatar.SubjectClass.values:
        raise AvatarError(_("Choose who the avatar is of: a person, a woman or a man."))
    with transaction.atomic():
        # The user's row lock makes two requests at once count each other.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        open_avatars = Avatar.objects.filter(user=user, status=Avatar.Status.COLLECTING).count()
        if open_avatars >= settings.LIKENESS_MAX_OPEN_AVATARS:
            raise OpenAvatarsLimitReached(
                _("You already have %(count)s avatars not yet paid for, the most at once. "
                  "Pay for one or delete one to start another.") % {"count": open_avatars}
            )
        return Avatar.objects.create(user=user, name=name, subject_class=subject_class)


def avatar_reopen(*, avatar: Avatar) -> Avatar:
    """After a build failed for good (and was refunded), let the person change the set and pay again."""
    with transaction.atomic():
        locked = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if locked.status != Avatar.Status.FAILED:
            raise AvatarError(_("Only an avatar whose training failed can be started again."))
        locked.transition_to(Avatar.Status.COLLECTING)
        # Photos are collected again: their deletion clock starts anew.
        locked.photos_deleted_at = None
        locked.save(update_fields=["status", "photos_deleted_at"])
    return locked


def avatar_templates_set(*, avatar: Avatar, templates) -> None:
    templates = list(templates)
    if not templates:
        raise AvatarError(_("Pick at least one style."))
    if len(templates) > settings.LIKENESS_MAX_TEMPLATES_PER_ORDER:
        raise AvatarError(_("Pick at most %(count)s styles.") % {"count": settings.LIKENESS_MAX_TEMPLATES_PER_ORDER})
    if any(not t.is_published for t in templates):
        raise AvatarError(_("One of those styles is not available."))
    with transaction.atomic():
        locked = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if locked.status != Avatar.Status.COLLECTING:
            raise AvatarError(_("The styles of a paid avatar are fixed; render more styles from its portraits page."))
        locked.templates.set(templates)


def avatar_refund_record(*, avatar_id: int, refunded: bool) -> None:
    """The payment for the avatar's current build is being given back (or, when Stripe refused the
    refund, is not): a refunded avatar keeps its finished portraits and renders nothing new.
    Called by orders, inside its refund transaction."""
    Avatar.objects.filter(pk=avatar_id).update(refunded_at=timezone.now() if refunded else None)


def avatar_mark_trained(*, avatar: Avatar, lora_bytes: bytes, centroid: list[float], engine_label: str,
                        engine_family: str) -> None:
    """Store the trained LoRA and forget the photos: they served their one purpose."""
    avatar.lora_file.save("avatar.safetensors", ContentFile(lora_bytes), save=False)
    avatar.embedding_centroid = centroid
    avatar.engine_label = engine_label
    avatar.engine_family = engine_family
    avatar.transition_to(Avatar.Status.READY)
    avatar.trained_at = timezone.now()
    photos_delete_files(avatar=avatar)
    avatar.photos_deleted_at = timezone.now()
    avatar.save(update_fields=["lora_file", "embedding_centroid", "engine_label", "engine_family", "status", "trained_at",
                               "photos_deleted_at"])
