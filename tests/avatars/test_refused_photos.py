"""A refused photo's card shows a small thumbnail of it (never the photo), kept in its row only
while the card is shown; "clear these" removes the refused ones; good photos come first."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.consent import photo_consent_give
from avatars import services
from avatars.models import Avatar, Photo
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_engine")]


def upload(avatar, path: Path) -> Photo:
    return services.photo_add(avatar=avatar, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()))


def stored_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def avatar_with_refusals(faces_dir):
    avatar = services.avatar_create(user=UserFactory(), subject_class="man")
    photo_consent_give(user=avatar.user, avatar=avatar)
    good = upload(avatar, faces_dir / "obama" / "obama-1.jpg")
    group = upload(avatar, faces_dir / "multi" / "obama_and_biden.jpg")
    return avatar, good, group


def test_a_refused_photo_keeps_a_small_thumbnail_and_no_file(avatar_with_refusals, client, private_media):
    avatar, good, group = avatar_with_refusals
    client.force_login(avatar.user)

    assert (group.status, group.reason_code) == ("rejected", "several_faces")
    assert not group.image and 0 < len(group.refused_thumbnail) < 8_000
    assert stored_files(private_media) == {good.image.name}
    response = client.get(f"/avatars/{avatar.public_id}/photos/{group.pk}/thumbnail/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as thumbnail:
        assert thumbnail.size == (services.REFUSED_THUMBNAIL_SIZE, services.REFUSED_THUMBNAIL_SIZE)
    page = client.get(f"/avatars/{avatar.public_id}/").content.decode()
    assert page.index(f'data-photo-id="{good.pk}"') < page.index('id="refused-photos"') < page.index(
        f'data-photo-id="{group.pk}"')
    assert client.post(f"/avatars/{avatar.public_id}/photos/").status_code == 400  # no file: nothing changes
    data = client.post(f"/avatars/{avatar.public_id}/photos/", {"photos": SimpleUploadedFile("x.jpg", b"not a photo")})
    assert {photo["name"]: photo["has_thumbnail"] for photo in data.json()["photos"]} == {
        "obama-1.jpg": True, "obama_and_biden.jpg": True, "x.jpg": False,
    }


def test_clear_these_removes_the_refused_photos_and_their_thumbnails_only(avatar_with_refusals, client):
    avatar, good, group = avatar_with_refusals
    stranger = UserFactory()
    client.force_login(stranger)
    assert client.post(f"/avatars/{avatar.public_id}/photos/clear-refused/").status_code == 404

    client.force_login(avatar.user)
    response = client.post(f"/avatars/{avatar.public_id}/photos/clear-refused/")

    group.refresh_from_db()
    good.refresh_from_db()
    assert response.status_code == 302 and response["Location"].endswith("#intake")
    assert (group.status, bytes(group.refused_thumbnail)) == ("removed", b"")
    assert good.status == "accepted" and good.image
    assert client.get(f"/avatars/{avatar.public_id}/photos/{group.pk}/thumbnail/").status_code == 404


def test_a_paid_set_cannot_be_cleared_and_training_deletes_the_thumbnails(avatar_with_refusals):
    avatar, good, group = avatar_with_refusals
    Avatar.objects.filter(pk=avatar.pk).update(status=Avatar.Status.PAID)

    with pytest.raises(services.AvatarError):
        services.photos_refused_clear(avatar=avatar)
    services.photos_delete_files(avatar=avatar)

    group.refresh_from_db()
    assert group.status == "rejected" and bytes(group.refused_thumbnail) == b""
