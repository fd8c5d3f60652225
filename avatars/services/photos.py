"""Photos in: an avatar's intake checks, upload budget, adding and removing photos."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from avatars.models import Avatar, Photo
from avatars.services.avatars import AvatarError, PhotoUploadsThrottled
from portrait_site.core.files import storage_delete_files
from portrait_site.core.rate_limits import rate_limit_give_back, rate_limit_hit, rate_limit_window_left

PHOTO_UPLOAD_WINDOW_SECONDS = 3600


def _intake_limits():
    from avatars.engine.intake_limits import IntakeLimits

    return IntakeLimits(max_bytes=settings.LIKENESS_MAX_UPLOAD_BYTES)


def _known_photos(avatar: Avatar, *, exclude_id: int | None = None):
    from avatars.engine.duplicates import KnownPhoto

    accepted = avatar.photos.filter(status=Photo.Status.ACCEPTED).exclude(pk=exclude_id)
    return [
        KnownPhoto(key=str(p.pk), perceptual_hash=p.perceptual_hash, embedding=p.embedding)
        for p in accepted.only("pk", "perceptual_hash", "embedding")
    ]


@dataclass(frozen=True)
class PhotoAddOutcome:
    """One uploaded file's fate: its Photo row with a verdict, or why it was not taken at all."""

    name: str
    photo: Photo | None = None
    not_taken: str = ""


def photos_too_many_message() -> str:
    """Why a request carrying more files than Django takes in one POST was refused whole."""
    return _("Too many photos in one go: send at most %(count)s at a time.") % {
        "count": settings.DATA_UPLOAD_MAX_NUMBER_FILES
    }


def photos_add(*, avatar: Avatar, uploaded_files, client_address: str = "") -> list[PhotoAddOutcome]:
    """Check and keep each uploaded file in turn: the one upload path of the website and the API.

    Raises AvatarError when the avatar takes no photos at all now (paid for, or already full),
    and PhotoUploadsThrottled when the person's hourly budget of photos, or their address's,
    can't take them all; a file that no longer fits once earlier ones were taken gets an outcome
    that says so.
    """
    _avatar_check_room_for_photos(avatar)
    uploaded_files = list(uploaded_files)
    _photo_upload_budget_take(user_id=avatar.user_id, client_address=client_address, photos=len(uploaded_files))
    outcomes = []
    for uploaded in uploaded_files:
        name = (getattr(uploaded, "name", "") or "photo")[-255:]
        try:
            outcomes.append(PhotoAddOutcome(name=name, photo=photo_add(avatar=avatar, uploaded_file=uploaded)))
        except AvatarError as refusal:
            outcomes.append(PhotoAddOutcome(name=name, not_taken=refusal.message))
    return outcomes


def _photo_upload_budget_take(*, user_id: int, client_address: str, photos: int) -> None:
    """Count the photos against the person's hourly budget, the one the page and the API share, and
    against their address's: accounts are free, so one machine with many accounts is held to the
    address's budget."""
    window = PHOTO_UPLOAD_WINDOW_SECONDS
    budgets = [(f"photo-uploads:{user_id}", settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR,
                _("That is more photos than one person can upload in an hour (%(limit)s). "))]
    if client_address:
        budgets.append((f"photo-uploads-from:{client_address}", settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR_PER_ADDRESS,
                        _("That is more photos than one network address can upload in an hour (%(limit)s). ")))
    taken = []
    for key, limit, sentence in budgets:
        if rate_limit_hit(key=key, limit=limit, window_seconds=window, amount=photos):
            for counted in taken:
                rate_limit_give_back(key=counted, window_seconds=window, amount=photos)
            minutes = max(1, round(rate_limit_window_left(window_seconds=window) / 60))
            raise PhotoUploadsThrottled(
                sentence % {"limit": limit}
                + ngettext("Try again in %(minutes)s minute.", "Try again in %(minutes)s minutes.", minutes)
                % {"minutes": minutes}
            )
        taken.append(key)


def _avatar_check_room_for_photos(avatar: Avatar) -> None:
    if avatar.status != Avatar.Status.COLLECTING:
        raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
    kept = avatar.photos.exclude(status=Photo.Status.REMOVED).count()
    if kept >= settings.LIKENESS_MAX_PHOTOS:
        raise AvatarError(
            _("This avatar already has %(count)s photos, the most it can take. Remove some to add others.")
            % {"count": kept}
        )


def photo_add(*, avatar: Avatar, uploaded_file) -> Photo:
    """Check one uploaded photo and keep it if it helps the avatar.

    Every upload gets a Photo row with a verdict, so the page can say why a photo
    was refused; photos already accepted are never touched by a bad upload.
    """
    from avatars.engine.intake import check_photo

    original_name = (getattr(uploaded_file, "name", "") or "photo")[-255:]
    with transaction.atomic():
        _avatar_check_room_for_photos(Avatar.objects.select_for_update().get(pk=avatar.pk))

    limits = _intake_limits()
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > limits.max_bytes:
        return Photo.objects.create(
            avatar=avatar, original_name=original_name, status=Photo.Status.REJECTED,
            reason_code="too_large",
            reason_details={"size_mb": size / 1_048_576, "limit_mb": limits.max_bytes / 1_048_576},
        )
    data = uploaded_file.read(limits.max_bytes + 1)
    verdict = check_photo(data, known=_known_photos(avatar), limits=limits)

    photo = Photo(
        avatar=avatar,
        original_name=original_name,
        status=Photo.Status.ACCEPTED if verdict.accepted else Photo.Status.REJECTED,
        reason_code=verdict.reason_code,
        reason_details=verdict.reason_details,
        checks=verdict.checks,
        face_box=verdict.face_box,
        embedding=verdict.embedding,
        perceptual_hash=verdict.perceptual_hash or "",
        width=verdict.width,
        height=verdict.height,
        quality_score=verdict.quality_score,
    )
    # A refused photo keeps no file, not even a duplicate or another person's: sixty copies of
    # one photo would otherwise be sixty files. Only photos accepted once carry one; a refused
    # one keeps a thumbnail in its row, for its card.
    if verdict.accepted and verdict.cleaned_image is not None:
        photo.image.save("photo.jpg", ContentFile(verdict.cleaned_image), save=False)
    elif verdict.cleaned_image is not None:
        photo.refused_thumbnail = _refused_photo_thumbnail(verdict.cleaned_image, face_box=verdict.face_box)
    try:
        with transaction.atomic():
            locked = Avatar.objects.select_for_update().get(pk=avatar.pk)
            if locked.status != Avatar.Status.COLLECTING:
                raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
            # The photo it copies may have been removed while this one was checked.
            if verdict.duplicate_of and locked.photos.filter(pk=int(verdict.duplicate_of)).exists():
                photo.duplicate_of_id = int(verdict.duplicate_of)
            photo.save()
            _photo_set_review_identity(locked)
    except Exception:
        if photo.image.name:
            default_storage.delete(photo.image.name)
        raise
    photo.refresh_from_db()
    return photo


# Small enough that a row holds it (about 3 KB), big enough to recognise the photo on its card.
REFUSED_THUMBNAIL_SIZE = 128


def _refused_photo_thumbnail(cleaned_jpeg: bytes, *, face_box) -> bytes:
    """The small square JPEG a refused photo's card shows, around its face when one was found:
    never the photo itself."""
    from io import BytesIO

    from PIL import Image

    from avatars.engine.face_crops import crop_face

    with Image.open(BytesIO(cleaned_jpeg)) as image:
        thumbnail = crop_face(image.convert("RGB"), face_box, size=REFUSED_THUMBNAIL_SIZE, margin=0.6)
    out = BytesIO()
    thumbnail.save(out, format="JPEG", quality=75)
    return out.getvalue()


def photos_refused_clear(*, avatar: Avatar) -> int:
    """The upload page's "clear these": every refused photo of a set still being collected is
    removed (its thumbnail and any file with it). Returns how many."""
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if avatar.status != Avatar.Status.COLLECTING:
            raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
        refused = list(avatar.photos.select_for_update().filter(status=Photo.Status.REJECTED))
        names = [name for name in (photo_mark_removed(photo) for photo in refused) if name]
        _photo_set_review_identity(avatar)
        if names:
            transaction.on_commit(lambda: storage_delete_files(names))
    return len(refused)


def _photo_set_review_identity(avatar: Avatar) -> None:
    """Re-judge who the set is of: the majority's person wins, the others are flagged.

    Run after every change to the set, under the avatar's row lock.
    """
    from avatars.engine.photo_sets import find_identity_outliers

    candidates = list(
        avatar.photos.filter(embedding__isnull=False)
        .filter(status__in=[Photo.Status.ACCEPTED, Photo.Status.REJECTED])
        .filter(reason_code__in=["", "different_person"])
        .order_by("created_at", "pk")
    )
    if len(candidates) < 2:
        return
    outliers = set(find_identity_outliers([p.embedding for p in candidates]))
    for index, photo in enumerate(candidates):
        should_be_outlier = index in outliers
        if should_be_outlier and photo.status == Photo.Status.ACCEPTED:
            photo.transition_to(Photo.Status.REJECTED)
            photo.reason_code = "different_person"
            photo.reason_details = {"judged": "set"}  # outvoted by the set, not refused on upload
            photo.save(update_fields=["status", "reason_code", "reason_details"])
        elif not should_be_outlier and photo.reason_code == "different_person" and photo.image:
            photo.transition_to(Photo.Status.ACCEPTED)
            photo.reason_code = ""
            photo.reason_details = {}
            photo.save(update_fields=["status", "reason_code", "reason_details"])


def photo_remove(*, photo: Photo) -> None:
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=photo.avatar_id)
        if avatar.status != Avatar.Status.COLLECTING:
            raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
        photo = Photo.objects.select_for_update().get(pk=photo.pk)
        if photo.status == Photo.Status.REMOVED:
            return
        name = photo_mark_removed(photo)
        _photo_set_review_identity(avatar)
        if name:
            transaction.on_commit(lambda: storage_delete_files([name]))


def photo_mark_removed(photo: Photo) -> str:
    """Mark the photo removed and forget its embedding; returns its file's name (maybe "") for
    the caller to delete once the transaction commits."""
    name = photo.image.name
    photo.transition_to(Photo.Status.REMOVED)
    photo.image = ""
    photo.refused_thumbnail = b""
    photo.embedding = None
    photo.save(update_fields=["status", "image", "refused_thumbnail", "embedding"])
    return name
