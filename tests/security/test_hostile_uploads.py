"""Hostile uploads through the real upload view: each refused with a reason, the good photos untouched.

The corpus is made here in code (no files committed): broken, empty, bombs, polyglots,
odd encodings, animations, several faces, no face. Every file goes through
POST /avatars/<id>/photos/ as a signed-in browser sends it, after three good photos of
one person are accepted.
"""

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.consent import photo_consent_give
from avatars import services
from avatars.models import Photo
from avatars.services.photos import REFUSED_THUMBNAIL_SIZE
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HTML_PAYLOAD = b"<html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture(autouse=True)
def small_set(settings):
    settings.LIKENESS_MIN_PHOTOS = 3
    settings.LIKENESS_RUN_JOBS_INLINE = False


# --- The corpus -----------------------------------------------------------------------


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _landscape(width: int, height: int) -> Image.Image:
    """A sky over a field: a picture with no face, well exposed."""
    sky = Image.linear_gradient("L").resize((width, height // 2)).point(lambda v: 120 + v // 2)
    field = (
        Image.linear_gradient("L")
        .rotate(90)
        .resize((width, height - height // 2))
        .point(lambda v: 70 + v // 3)
    )
    picture = Image.new("RGB", (width, height))
    picture.paste(
        Image.merge("RGB", (sky.point(lambda v: v // 2), sky.point(lambda v: v * 3 // 4), sky)), (0, 0)
    )
    picture.paste(
        Image.merge("RGB", (field.point(lambda v: v // 2), field, field.point(lambda v: v // 3))),
        (0, height // 2),
    )
    return picture


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims width x height pixels: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG with its frame header rewritten to claim width x height."""
    data = bytearray(_encode(Image.new("RGB", (16, 16), "grey"), "JPEG"))
    frame = data.index(b"\xff\xc0")
    # SOFn: marker, length (2), precision (1), height (2), width (2).
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_with_broken_exif(jpeg: bytes) -> bytes:
    """The JPEG with a corrupt APP1 Exif segment right after its start marker: the IFD points past the end."""
    tiff = b"II*\x00" + struct.pack("<I", 0x7FFFFFF0) + b"\xde\xad\xbe\xef" * 4
    body = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def animated(fmt: str) -> bytes:
    frames = [_landscape(640, 640), _landscape(640, 640).rotate(180)]
    return _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=200, loop=0)


def hostile_corpus(faces_dir: Path) -> list[tuple[str, bytes, set[str]]]:
    """(file name, bytes, the reason codes that are a right answer)."""
    sixteen_bit = Image.fromarray(np.linspace(9000, 60000, 800 * 800).reshape(800, 800).astype("<u2"))
    cmyk = _landscape(800, 600).convert("CMYK")
    obama = (faces_dir / "obama" / "obama-2.jpg").read_bytes()
    return [
        ("truncated.jpg", obama[: len(obama) // 2], {"unreadable"}),
        ("empty.jpg", b"", {"unreadable"}),
        ("bomb.png", png_declaring(30000, 30000), {"bomb"}),
        ("bomb.jpg", jpeg_declaring(65000, 65000), {"bomb"}),
        ("gif-then-script.gif", _encode(_landscape(640, 640), "GIF") + HTML_PAYLOAD, {"not_an_image"}),
        ("gif-header-script.gif", b"GIF89a" + HTML_PAYLOAD, {"not_an_image"}),
        ("jpeg-then-script.jpg", _encode(_landscape(800, 600), "JPEG") + HTML_PAYLOAD, {"no_face"}),
        (
            "invoice.jpg",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
            {"not_an_image"},
        ),
        ("page.png", b"\x89PNG\r\n\x1a\n" + HTML_PAYLOAD, {"not_an_image"}),
        ("page.jpg", HTML_PAYLOAD, {"not_an_image"}),
        (
            "drawing.jpg",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            {"not_an_image"},
        ),
        # 28 MP: under the bomb limit, far over the kept size.
        ("huge-landscape.jpg", _encode(_landscape(7000, 4000), "JPEG", quality=70), {"no_face"}),
        (
            "broken-exif-landscape.jpg",
            jpeg_with_broken_exif(_encode(_landscape(800, 600), "JPEG")),
            {"no_face"},
        ),
        ("sixteen-bit.png", _encode(sixteen_bit, "PNG"), {"no_face"}),
        ("cmyk.jpg", _encode(cmyk, "JPEG"), {"no_face"}),
        ("animated.gif", animated("GIF"), {"animated"}),
        ("animated.webp", animated("WEBP"), {"animated"}),
        ("two-people.jpg", (faces_dir / "multi" / "obama_and_biden.jpg").read_bytes(), {"several_faces"}),
        ("landscape.jpg", _encode(_landscape(1200, 800), "JPEG"), {"no_face"}),
        ("tiny.jpg", _encode(_landscape(320, 240), "JPEG"), {"too_small"}),
    ]


def good_photos(faces_dir: Path) -> list[tuple[str, bytes]]:
    """Three photos of one person, each under a misleading name or with a broken EXIF block."""
    folder = faces_dir / "obama"
    return [
        # A JPEG named .png and a PNG named .heic: the bytes decide, not the name.
        ("obama-1.png", (folder / "obama-1.jpg").read_bytes()),
        ("obama-2.heic", _encode(Image.open(folder / "obama-2.jpg"), "PNG")),
        ("obama-3.jpg", jpeg_with_broken_exif((folder / "obama-3.jpg").read_bytes())),
    ]


# --- The upload path ------------------------------------------------------------------


def upload(client: Client, avatar, name: str, data: bytes):
    response = client.post(
        reverse("avatars:photo_upload", args=[avatar.public_id]),
        {"photos": SimpleUploadedFile(name, data, content_type="image/jpeg")},
    )
    assert response.status_code == 201, (name, response.status_code, response.content[:300])
    [result] = response.json()["results"]
    return result


def stored_state(avatar) -> dict:
    """Accepted photo rows with the hash of their stored file."""
    state = {}
    for photo in avatar.photos.filter(status=Photo.Status.ACCEPTED).order_by("pk"):
        with default_storage.open(photo.image.name, "rb") as stored:
            digest = hashlib.sha256(stored.read()).hexdigest()
        state[photo.pk] = (photo.original_name, photo.image.name, photo.perceptual_hash, digest)
    return state


@pytest.fixture
def signed_in_with_good_set(client, faces_dir):
    user = UserFactory()
    avatar = services.avatar_create(user=user, subject_class="man")
    photo_consent_give(user=user, avatar=avatar)
    client.force_login(user)
    results = [upload(client, avatar, name, data) for name, data in good_photos(faces_dir)]
    assert [(r["accepted"], r["reason_code"]) for r in results] == [(True, "")] * 3, results
    return client, avatar


def test_every_hostile_file_is_refused_with_a_reason_and_the_good_photos_stay(
    signed_in_with_good_set, faces_dir, private_media
):
    client, avatar = signed_in_with_good_set
    before = stored_state(avatar)
    assert len(before) == 3

    verdicts = {}
    for name, data, expected in hostile_corpus(faces_dir):
        result = upload(client, avatar, name, data)
        verdicts[name] = result["reason_code"]
        assert result["accepted"] is False and result["status"] == "rejected", (name, result)
        assert result["reason_code"] in expected, (name, result)
        assert len(result["reason"]) > 30 and "Traceback" not in result["reason"], (name, result)

    assert stored_state(avatar) == before
    readiness = client.post(reverse("avatars:photo_upload", args=[avatar.public_id])).json()
    assert readiness == {"error": {"code": "invalid", "message": "Choose at least one photo."}}
    # Refusals that can't change with the set keep no file: only the three good photos are stored.
    assert {p.relative_to(private_media).as_posix() for p in private_media.rglob("*") if p.is_file()} == {
        name for _, name, _, _ in before.values()
    }
    # A 7000 px photo is decoded at a JPEG scale near the kept size (2048 px), never at full size.
    huge = avatar.photos.get(original_name="huge-landscape.jpg")
    assert 0.75 * 2048 <= max(huge.width, huge.height) <= 2048


def test_a_good_photo_carrying_a_script_is_stored_re_encoded_without_it(signed_in_with_good_set, faces_dir):
    client, avatar = signed_in_with_good_set
    # Its clean copy leaves first, so the carrying one is no duplicate.
    services.photo_remove(photo=avatar.photos.get(original_name="obama-3.jpg"))
    carrying = (faces_dir / "obama" / "obama-3.jpg").read_bytes() + HTML_PAYLOAD

    result = upload(client, avatar, "obama-3-again.jpg", carrying)

    assert result["accepted"] is True, (result["reason_code"], result["reason"])
    photo = avatar.photos.get(pk=result["id"])
    with default_storage.open(photo.image.name, "rb") as stored:
        kept = stored.read()
    assert b"<script" not in kept and kept != carrying and kept.startswith(b"\xff\xd8\xff")
    served = client.get(result["image_url"])
    assert served["Content-Type"] == "image/jpeg" and served["X-Content-Type-Options"] == "nosniff"


def test_an_oversized_file_is_refused_before_it_is_read(signed_in_with_good_set, settings):
    client, avatar = signed_in_with_good_set
    settings.LIKENESS_MAX_UPLOAD_BYTES = 1024 * 1024

    result = upload(client, avatar, "raw.jpg", b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024))

    assert (result["accepted"], result["reason_code"]) == (False, "too_large")
    assert "1 MB" in result["reason"]


@pytest.mark.parametrize("enforce_csrf", [False, True], ids=["script", "browser-form"])
def test_two_hundred_files_at_once_get_a_clear_400_and_lose_nothing(signed_in_with_good_set, enforce_csrf):
    client, avatar = signed_in_with_good_set
    before = stored_state(avatar)
    url = reverse("avatars:photo_upload", args=[avatar.public_id])
    data = {"photos": [SimpleUploadedFile(f"p{i}.jpg", b"\xff\xd8\xff" + bytes(64)) for i in range(200)]}
    if enforce_csrf:
        browser = Client(enforce_csrf_checks=True)
        browser.cookies = client.cookies
        page = browser.get(reverse("avatars:detail", args=[avatar.public_id]))
        data["csrfmiddlewaretoken"] = page.context["csrf_token"]
        client = browser

    response = client.post(url, data)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"Too many photos in one go: send at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} at a time."
    assert stored_state(avatar) == before
    assert avatar.photos.count() == 3


def stored_files(private_media) -> set[str]:
    return {p.relative_to(private_media).as_posix() for p in private_media.rglob("*") if p.is_file()}


def test_a_photo_refused_for_the_rest_of_the_set_keeps_no_file(signed_in_with_good_set, faces_dir, private_media):
    client, avatar = signed_in_with_good_set
    before = stored_files(private_media)

    someone_else = upload(client, avatar, "biden.jpg", (faces_dir / "biden" / "biden-2.jpg").read_bytes())
    copies = [upload(client, avatar, f"again-{i}.jpg", (faces_dir / "obama" / "obama-1.jpg").read_bytes())
              for i in range(5)]

    assert someone_else["reason_code"] == "different_person"
    assert {c["reason_code"] for c in copies} == {"duplicate"}
    assert stored_files(private_media) == before
    assert all(not photo.image for photo in avatar.photos.filter(status=Photo.Status.REJECTED))
    # The card shows a refused photo by a small face crop kept in its row, never the photo itself.
    thumbnail = client.get(reverse("avatars:photo_thumbnail", args=[avatar.public_id, someone_else["id"]]))
    assert thumbnail.status_code == 200
    assert max(Image.open(io.BytesIO(b"".join(thumbnail))).size) <= REFUSED_THUMBNAIL_SIZE
