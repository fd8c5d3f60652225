"""An avatar's photos: the list, whether there are enough good ones, and their thumbnails."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import (
    QuerySet,
)

from avatars.models import Avatar, Photo


def photo_list_for_avatar(*, avatar: Avatar) -> QuerySet[Photo]:
    return (avatar.photos.exclude(status=Photo.Status.REMOVED).select_related("duplicate_of")
            .order_by("created_at", "pk"))


@dataclass
class PhotoReadiness:
    accepted: int
    required: int
    refused: list[Photo] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return max(0, self.required - self.accepted)

    @property
    def ready(self) -> bool:
        return self.missing == 0


def avatar_photo_readiness(*, avatar: Avatar) -> PhotoReadiness:
    photos = list(photo_list_for_avatar(avatar=avatar))
    return PhotoReadiness(
        accepted=sum(1 for p in photos if p.status == Photo.Status.ACCEPTED),
        required=settings.LIKENESS_MIN_PHOTOS,
        refused=[p for p in photos if p.status == Photo.Status.REJECTED],
    )


def photo_has_thumbnail(*, photo: Photo) -> bool:
    return bool(photo.image or photo.refused_thumbnail)


def photo_thumbnail_jpeg(*, photo: Photo, size: int = 320) -> bytes:
    """A square thumbnail of a kept photo, centred on the face its check found; for a refused
    photo, the small one kept when it was refused."""
    from io import BytesIO

    from PIL import Image

    from avatars.engine.face_crops import crop_face

    if not photo.image:
        return bytes(photo.refused_thumbnail)

    with photo.image.open("rb") as handle, Image.open(handle) as image:
        thumbnail = crop_face(image, photo.face_box, size=size, margin=0.6)
    out = BytesIO()
    thumbnail.save(out, format="JPEG", quality=85)
    return out.getvalue()
