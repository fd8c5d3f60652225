"""Reading an upload: what is not a usable photo and why, and what is kept of one that is."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image

from avatars.engine.intake import check_photo
from avatars.engine.intake_limits import IntakeLimits
from avatars.engine.photo_files import WHAT_CODES
from tests.engine.intake_photos import assert_refused, encode, upright_photo


@pytest.mark.parametrize("name, size", [
    ("obama/obama-5-small.jpg", "320 × 240"),
    ("alex_lacamoire/alex_lacamoire-3.png", "424 × 394"),
])
def test_a_photo_under_512_pixels_is_refused_as_too_small(faces_dir, name, size):
    verdict = check_photo((faces_dir / name).read_bytes())

    assert_refused(verdict, "too_small")
    details = verdict.reason_details
    assert (f"{details['width']} × {details['height']}", details["min_side"]) == (size, 512)
    assert verdict.cleaned_image is None


# ---- orientation and metadata ---------------------------------------------------------------

def gps_exif(orientation=None):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 21.0, 3.0),
    }
    return exif


def test_a_photo_stored_sideways_with_an_exif_orientation_comes_out_upright(faces_dir, verdicts):
    upright = upright_photo(faces_dir)
    # Orientation 6 says "turn 90° clockwise to view": store the pixels turned the other way.
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    data = encode(sideways, quality=95, exif=gps_exif(orientation=6))
    reference = verdicts(faces_dir / "obama/obama-1.jpg")

    verdict = check_photo(data)
    without_tag = check_photo(encode(sideways, quality=95))

    assert verdict.accepted, verdict.checks
    assert (verdict.width, verdict.height) == upright.size
    for got, expected in zip(verdict.face_box, reference.face_box, strict=True):
        assert abs(got - expected) <= 0.05 * upright.width
    with Image.open(io.BytesIO(verdict.cleaned_image)) as kept:
        assert kept.size == upright.size
        assert not kept.getexif()
        assert "exif" not in kept.info
    assert b"Exif\x00\x00" not in verdict.cleaned_image
    # The same pixels without the tag are a sideways face, which the detector does not find.
    assert_refused(without_tag, "no_face")


def test_gps_and_camera_metadata_are_stripped_from_the_kept_copy(faces_dir):
    data = encode(upright_photo(faces_dir, "biden/biden-2.jpg"), quality=95, exif=gps_exif())
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    verdict = check_photo(data)

    assert verdict.accepted, verdict.checks
    assert b"Exif\x00\x00" not in verdict.cleaned_image
    assert b"PhoneMaker" not in verdict.cleaned_image
    with Image.open(io.BytesIO(verdict.cleaned_image)) as kept:
        assert not kept.getexif().get_ifd(ExifTags.IFD.GPSInfo)


def test_a_broken_exif_block_is_ignored(faces_dir):
    data = encode(upright_photo(faces_dir, "biden/biden-2.jpg"), quality=90,
                  exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff\x01\x12garbage")

    verdict = check_photo(data)

    assert verdict.accepted, verdict.checks


# ---- bad input ------------------------------------------------------------------------------

def png_header_only(width, height):
    """A PNG that declares a size and holds no pixels: a decompression bomb costs nothing to make."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def animated(image_format, frame):
    frames = [frame, frame.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return encode(frames[0], image_format, save_all=True, append_images=frames[1:], duration=200, loop=0)


@pytest.mark.parametrize("case, code", [
    ("zero bytes", "unreadable"),
    ("truncated jpeg", "unreadable"),
    ("pdf renamed .jpg", "not_an_image"),
    ("html", "not_an_image"),
    ("html with a png header", "not_an_image"),
    ("still gif", "not_an_image"),
    ("bomb beyond pillow's own limit", "bomb"),
    ("bomb beyond our limit", "bomb"),
    ("animated gif", "animated"),
    ("animated webp", "animated"),
])
def test_a_file_that_is_not_a_usable_photo_is_refused_with_a_reason(faces_dir, case, code):
    photo = (faces_dir / "obama/obama-1.jpg").read_bytes()
    frame = upright_photo(faces_dir)
    data = {
        "zero bytes": lambda: b"",
        "truncated jpeg": lambda: photo[: len(photo) // 2],
        "pdf renamed .jpg": lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        "html": lambda: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        "html with a png header": lambda: b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
        "still gif": lambda: encode(frame, "GIF"),
        "bomb beyond pillow's own limit": lambda: png_header_only(20000, 20000),
        "bomb beyond our limit": lambda: png_header_only(8000, 8000),
        "animated gif": lambda: animated("GIF", frame),
        "animated webp": lambda: animated("WEBP", frame),
    }[case]()

    verdict = check_photo(data)

    assert_refused(verdict, code)
    assert verdict.cleaned_image is None and verdict.embedding is None
    if code in ("not_an_image", "unreadable"):
        assert verdict.reason_details["what"] in WHAT_CODES, verdict.reason_details


def crafted_rgba_png(side: int) -> bytes:
    """A real side x side RGBA PNG of one colour: a few hundred KB that decode to 4 bytes a pixel."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x80\x60\x40\xff" * side
    pixels = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_a_crafted_49_megapixel_png_is_refused_before_it_is_decoded():
    data = crafted_rgba_png(7000)
    assert len(data) < 400_000 and 7000 * 7000 < IntakeLimits().max_pixels

    verdict = check_photo(data)

    assert_refused(verdict, "too_many_pixels")
    assert verdict.reason_details == {"width": 7000, "height": 7000, "format": "PNG",
                                      "limit_mp": IntakeLimits().max_full_decode_pixels / 1_000_000}
    assert verdict.cleaned_image is None


def test_an_animated_image_says_so(faces_dir):
    verdict = check_photo(animated("GIF", upright_photo(faces_dir)))

    assert (verdict.reason_code, verdict.reason_details) == ("animated", {})


def test_a_file_over_the_size_cap_is_refused_before_it_is_opened(faces_dir):
    data = (faces_dir / "obama/obama-1.jpg").read_bytes()

    verdict = check_photo(data, limits=IntakeLimits(max_bytes=100_000))

    assert_refused(verdict, "too_large")
    assert "format" not in verdict.checks


def test_a_cmyk_jpeg_is_converted_and_accepted(faces_dir, verdicts):
    reference = verdicts(faces_dir / "obama/obama-1.jpg")
    data = encode(upright_photo(faces_dir).convert("CMYK"), quality=95)

    verdict = check_photo(data)

    assert verdict.accepted, verdict.checks
    assert verdict.checks["format"]["value"] == "JPEG"
    assert abs(verdict.checks["brightness"]["value"] - reference.checks["brightness"]["value"]) < 10


def test_a_16_bit_png_is_scaled_down_not_clipped_and_accepted(faces_dir):
    grey = np.asarray(upright_photo(faces_dir).convert("L"), dtype=np.uint16)
    sixteen_bit = Image.fromarray(grey * 257)
    data = encode(sixteen_bit, "PNG")
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.mode.startswith("I")

    verdict = check_photo(data)

    assert verdict.accepted, verdict.checks
    with Image.open(io.BytesIO(verdict.cleaned_image)) as kept:
        assert abs(float(np.asarray(kept.convert("L")).mean()) - float(grey.mean())) < 3


def test_an_rgba_png_is_flattened_and_accepted(faces_dir, verdicts):
    verdict = verdicts(faces_dir / "lin_manuel_miranda/lin_manuel_miranda-1.png")

    assert verdict.accepted
    with Image.open(io.BytesIO(verdict.cleaned_image)) as kept:
        assert kept.mode == "RGB"


def test_a_heic_photo_is_accepted(faces_dir):
    data = encode(upright_photo(faces_dir, "rose_leslie/rose_leslie-2.jpg"), "HEIF", quality=90)
    assert data[4:12] == b"ftypheic"

    verdict = check_photo(data)

    assert verdict.accepted, verdict.checks
    assert verdict.checks["format"]["value"] == "HEIF"
