"""Photo intake on real photos: what is accepted, what is refused and why, and what is kept."""

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageEnhance, ImageFilter, ImageOps

from avatars.engine import safety
from avatars.engine.intake import (
    REASON_CODES,
    WHAT_CODES,
    IntakeLimits,
    KnownPhoto,
    TrainingCandidate,
    check_photo,
    choose_training_photos,
    find_identity_outliers,
    hash_distance,
    identity_centroid,
)

ONE_PERSON_PHOTOS = [
    "obama/obama-1.jpg",
    "obama/obama-2.jpg",
    "obama/obama-3.jpg",
    "obama/obama-4-1080p.jpg",
    "biden/biden-1.jpg",
    "biden/biden-2.jpg",
    "rose_leslie/rose_leslie-1.jpg",
    "rose_leslie/rose_leslie-2.jpg",
    "alex_lacamoire/alex_lacamoire-1.jpg",
    "alex_lacamoire/alex_lacamoire-2.jpg",
    "kit_harington/kit_harington-1.jpg",
    "lin_manuel_miranda/lin_manuel_miranda-1.png",
]


@pytest.fixture(scope="module")
def verdicts():
    """Verdicts of the shared photos, each checked once per module (a check costs ~0.25 s)."""
    cache = {}

    def verdict_of(path):
        if path not in cache:
            cache[path] = check_photo(path.read_bytes())
        return cache[path]

    return verdict_of


def known_from(verdict, key):
    assert verdict.accepted, verdict.reason_code
    return KnownPhoto(key=key, perceptual_hash=verdict.perceptual_hash, embedding=verdict.embedding)


def encode(image, image_format="JPEG", **options):
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def upright_photo(faces_dir, name="obama/obama-1.jpg"):
    with Image.open(faces_dir / name) as image:
        return image.convert("RGB")


def assert_refused(verdict, code):
    assert not verdict.accepted
    assert verdict.reason_code == code, (verdict.reason_code, verdict.reason_details, verdict.checks)
    assert code in REASON_CODES  # the site words every one of them (tests/avatars/test_photo_verdicts.py)
    json.dumps(verdict.reason_details)
    json.dumps(verdict.checks)


# ---- accepted -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ONE_PERSON_PHOTOS)
def test_a_photo_of_one_person_is_accepted_with_what_the_set_needs(faces_dir, verdicts, name):
    verdict = verdicts(faces_dir / name)

    assert verdict.accepted, (verdict.reason_code, verdict.checks)
    assert verdict.reason_code == "" and verdict.reason_details == {}
    left, top, right, bottom = verdict.face_box
    assert 0 <= left < right <= verdict.width and 0 <= top < bottom <= verdict.height
    assert len(verdict.embedding) == 128
    assert len(verdict.perceptual_hash) == 16
    assert 0.0 < verdict.quality_score <= 1.0
    assert verdict.duplicate_of is None
    assert all(check["passed"] for check in verdict.checks.values()), verdict.checks
    json.dumps(verdict.checks)
    with Image.open(io.BytesIO(verdict.cleaned_image)) as kept:
        assert kept.format == "JPEG"
        assert kept.size == (verdict.width, verdict.height)
        assert max(kept.size) <= IntakeLimits().kept_max_side
        assert not kept.getexif()


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


def test_a_sharper_closer_photo_scores_higher_than_a_soft_video_still(faces_dir, verdicts):
    sharp = verdicts(faces_dir / "rose_leslie/rose_leslie-2.jpg")
    soft = verdicts(faces_dir / "lin_manuel_miranda/lin_manuel_miranda-1.png")

    assert sharp.checks["sharpness"]["value"] > 10 * soft.checks["sharpness"]["value"]
    assert sharp.quality_score > soft.quality_score


# ---- several people, another person ---------------------------------------------------------

@pytest.mark.parametrize("name", [
    "multi/obama_and_biden.jpg", "multi/two_people.jpg", "multi/kit_with_rose.jpg",
])
def test_a_photo_with_two_people_is_refused(faces_dir, name):
    # kit_with_rose is 501 px wide: below the size floor, so the floor is lowered to let
    # the face check speak.
    verdict = check_photo((faces_dir / name).read_bytes(), limits=IntakeLimits(min_side=480))

    assert_refused(verdict, "several_faces")
    assert verdict.reason_details == {"count": 2}
    assert verdict.checks["faces"]["value"] == 2


def test_another_persons_photo_is_refused_against_the_accepted_set(faces_dir, verdicts):
    known = [known_from(verdicts(faces_dir / f"obama/obama-{n}.jpg"), f"obama-{n}") for n in (1, 2)]

    stranger = check_photo((faces_dir / "biden/biden-2.jpg").read_bytes(), known=known)
    same_person = check_photo((faces_dir / "obama/obama-3.jpg").read_bytes(), known=known)

    assert_refused(stranger, "different_person")
    assert stranger.checks["identity"]["value"] > IntakeLimits().max_identity_distance
    assert same_person.accepted, same_person.checks
    assert same_person.checks["identity"]["value"] < 0.4


def test_a_friends_photo_accepted_first_does_not_turn_the_set_against_its_owner(faces_dir, verdicts):
    known = [known_from(verdicts(faces_dir / "biden/biden-1.jpg"), "friend")] + [
        known_from(verdicts(faces_dir / f"obama/obama-{n}.jpg"), f"obama-{n}") for n in (1, 2)
    ]

    verdict = check_photo((faces_dir / "obama/obama-3.jpg").read_bytes(), known=known)

    assert verdict.accepted, verdict.checks
    assert verdict.checks["identity"]["compared_with"] == 2


def test_the_set_level_check_finds_the_photo_that_is_not_the_majoritys_person(faces_dir, verdicts):
    friend_first = ["biden/biden-1.jpg", "obama/obama-1.jpg", "obama/obama-2.jpg", "obama/obama-3.jpg"]
    embeddings = [verdicts(faces_dir / name).embedding for name in friend_first]

    assert find_identity_outliers(embeddings) == [0]
    assert find_identity_outliers(embeddings[1:]) == []
    two_and_three = [verdicts(faces_dir / name).embedding for name in (
        "rose_leslie/rose_leslie-1.jpg", "obama/obama-1.jpg", "rose_leslie/rose_leslie-2.jpg",
        "obama/obama-2.jpg", "obama/obama-3.jpg",
    )]
    assert find_identity_outliers(two_and_three) == [0, 2]
    assert find_identity_outliers([]) == [] and find_identity_outliers(embeddings[:1]) == []


def test_training_photos_are_the_best_of_the_majoritys_person(faces_dir, verdicts):
    names = ["biden/biden-2.jpg", "obama/obama-1.jpg", "obama/obama-2.jpg", "obama/obama-3.jpg"]
    candidates = [
        TrainingCandidate(key=name, quality_score=verdicts(faces_dir / name).quality_score,
                          embedding=verdicts(faces_dir / name).embedding)
        for name in names
    ] + [TrainingCandidate(key="no-face", quality_score=None, embedding=None)]
    # The friend's photo is the best one technically: it must still be left out.
    candidates[0] = TrainingCandidate(key=names[0], quality_score=1.0, embedding=candidates[0].embedding)

    chosen = choose_training_photos(candidates, limit=2)
    everything = choose_training_photos(candidates, limit=10)

    assert len(chosen) == 2
    assert set(everything) == {"obama/obama-1.jpg", "obama/obama-2.jpg", "obama/obama-3.jpg"}
    assert everything[:2] == chosen
    assert "obama/obama-3.jpg" not in chosen  # the softest of the three (sharpness ~70 against ~300)


def test_identity_centroid_is_the_mean_embedding():
    assert identity_centroid([[0.0, 2.0], [1.0, 0.0], None]) == [0.5, 1.0]
    assert identity_centroid([]) == []


# ---- duplicates --------------------------------------------------------------------------

def test_the_same_file_twice_is_a_duplicate(faces_dir, verdicts):
    path = faces_dir / "rose_leslie/rose_leslie-1.jpg"
    known = [known_from(verdicts(path), "first-upload")]

    verdict = check_photo(path.read_bytes(), known=known)

    assert_refused(verdict, "duplicate")
    assert verdict.duplicate_of == "first-upload"
    assert verdict.checks["duplicate"]["value"] == 0


def test_a_reencoded_smaller_copy_is_a_duplicate(faces_dir, verdicts):
    known = [known_from(verdicts(faces_dir / "rose_leslie/rose_leslie-1.jpg"), "original")]
    photo = upright_photo(faces_dir, "rose_leslie/rose_leslie-1.jpg")
    copy = photo.resize((photo.width * 3 // 4, photo.height * 3 // 4), Image.Resampling.BICUBIC)

    verdict = check_photo(encode(copy, quality=70), known=known)

    assert_refused(verdict, "duplicate")
    assert verdict.duplicate_of == "original"


def test_a_letterboxed_copy_of_the_same_shot_is_a_duplicate(faces_dir, verdicts):
    # obama-4-1080p is obama-1 on a black 16:9 canvas: the frames differ, the face chips do not.
    known = [known_from(verdicts(faces_dir / "obama/obama-1.jpg"), "original")]

    verdict = check_photo((faces_dir / "obama/obama-4-1080p.jpg").read_bytes(), known=known)

    assert_refused(verdict, "duplicate")
    assert verdict.duplicate_of == "original"


def stretched(photo, *, across=1.0, down=1.0):
    return photo.resize((round(photo.width * across), round(photo.height * down)), Image.Resampling.BICUBIC)


def tinted(photo):
    red, green, blue = photo.split()
    return Image.merge("RGB", (red.point(lambda value: min(255, round(value * 1.15))), green,
                               blue.point(lambda value: round(value * 0.8))))


SAME_SHOT_COPIES = {
    "stretched 12% across": lambda photo: stretched(photo, across=1.12),
    "stretched 35% across": lambda photo: stretched(photo, across=1.35),
    "stretched 20% down": lambda photo: stretched(photo, down=1.2),
    "squeezed 25% across": lambda photo: stretched(photo, across=0.75),
    "recropped": lambda photo: photo.crop((photo.width // 8, photo.height // 12, photo.width, photo.height * 9 // 10)),
    "tinted": tinted,
    "greyed": lambda photo: ImageOps.grayscale(photo).convert("RGB"),
    "stretched and greyed": lambda photo: ImageOps.grayscale(stretched(photo, across=1.25)).convert("RGB"),
}


@pytest.mark.parametrize("copy", SAME_SHOT_COPIES)
def test_a_stretched_recropped_tinted_or_greyed_copy_is_a_duplicate_naming_the_photo_it_copies(
        faces_dir, verdicts, copy):
    known = [known_from(verdicts(faces_dir / "obama/obama-2.jpg"), "other-shot"),
             known_from(verdicts(faces_dir / "obama/obama-1.jpg"), "original")]
    copied = SAME_SHOT_COPIES[copy](upright_photo(faces_dir, "obama/obama-1.jpg"))

    verdict = check_photo(encode(copied, quality=90), known=known)

    assert_refused(verdict, "duplicate")
    assert verdict.duplicate_of == "original"


@pytest.mark.parametrize("first, second", [
    ("rose_leslie/rose_leslie-1.jpg", "rose_leslie/rose_leslie-2.jpg"),
    ("obama/obama-1.jpg", "obama/obama-2.jpg"),
    ("obama/obama-2.jpg", "obama/obama-3.jpg"),
])
def test_another_photo_of_the_same_person_is_not_a_duplicate(faces_dir, verdicts, first, second):
    first_verdict = verdicts(faces_dir / first)
    assert first_verdict.accepted, first_verdict.checks

    verdict = check_photo((faces_dir / second).read_bytes(), known=[known_from(first_verdict, "first")])

    assert verdict.accepted, verdict.checks
    assert verdict.checks["duplicate"]["passed"] and verdict.checks["same_shot"]["passed"]


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


@pytest.mark.parametrize("change, code", [
    (lambda image: image.filter(ImageFilter.GaussianBlur(6)), "blurry"),
    (lambda image: ImageEnhance.Brightness(image).enhance(0.2), "too_dark"),
    (lambda image: ImageEnhance.Brightness(image).enhance(3.0), "too_bright"),
    (lambda image: image.crop((0, 520, image.width, image.height)), "no_face"),
])
def test_a_photo_that_would_train_badly_is_refused_with_what_to_do(faces_dir, change, code):
    data = encode(change(upright_photo(faces_dir)), quality=92)

    verdict = check_photo(data)

    assert_refused(verdict, code)
    assert verdict.reason_details == {}  # nothing to measure in the sentence
    assert verdict.cleaned_image is not None  # decoded fine: the person may see what was refused


@pytest.mark.parametrize("brightness, code", [(0.03, "too_dark"), (6.0, "too_bright")])
def test_a_face_lost_to_darkness_or_glare_is_explained_as_such(faces_dir, brightness, code):
    data = encode(ImageEnhance.Brightness(upright_photo(faces_dir)).enhance(brightness), quality=92)

    verdict = check_photo(data)

    assert_refused(verdict, code)
    assert verdict.checks["faces"]["value"] == 0


def test_the_face_size_and_pose_floors_refuse_in_that_order(faces_dir):
    # Threshold logic: obama-2's face is 55% of its shorter side and turned ~20 degrees.
    data = (faces_dir / "obama/obama-2.jpg").read_bytes()

    too_small = check_photo(data, limits=IntakeLimits(min_face_fraction=0.6, max_yaw_degrees=5))
    turned = check_photo(data, limits=IntakeLimits(max_yaw_degrees=5))

    assert_refused(too_small, "face_too_small")
    assert_refused(turned, "not_frontal")
    assert turned.checks["yaw"]["value"] > 5


# ---- nudity ---------------------------------------------------------------------------------

def test_an_unsafe_detection_refuses_the_photo_above_every_other_reason(faces_dir, monkeypatch):
    # Threshold logic only: no explicit picture ships with the tests, so the detector's
    # output is replaced by an exposed-part detection.
    detector = safety._Detector.get()
    monkeypatch.setattr(detector, "detect", lambda image: [
        {"class": "FACE_MALE", "score": 0.9, "box": [0, 0, 10, 10]},
        {"class": "FEMALE_BREAST_EXPOSED", "score": 0.81, "box": [0, 0, 10, 10]},
    ])
    data = (faces_dir / "obama/obama-1.jpg").read_bytes()

    same_file = KnownPhoto(key="same", perceptual_hash=check_photo(data).perceptual_hash)

    verdict = check_photo(data, known=[same_file])

    assert_refused(verdict, "unsafe")
    assert verdict.duplicate_of is None
    assert verdict.checks["nudity"] == {"value": 0.81, "labels": ["FEMALE_BREAST_EXPOSED"], "passed": False}
    assert verdict.reason_details == {}


# ---- mirrored copies ------------------------------------------------------------------------

def test_a_mirrored_copy_is_a_duplicate_by_its_hash(faces_dir, verdicts):
    known = [known_from(verdicts(faces_dir / "obama/obama-1.jpg"), "original")]
    mirrored = upright_photo(faces_dir).transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    verdict = check_photo(encode(mirrored, quality=90), known=known)

    assert_refused(verdict, "duplicate")
    assert verdict.duplicate_of == "original"
    assert verdict.checks["duplicate"]["mirrored"] is True
    assert verdict.checks["duplicate"]["value"] <= IntakeLimits().max_duplicate_bits


def test_a_mirrored_crop_is_a_duplicate_by_its_mirrored_face_chip(faces_dir, verdicts):
    known = [known_from(verdicts(faces_dir / "rose_leslie/rose_leslie-1.jpg"), "original")]
    photo = upright_photo(faces_dir, "rose_leslie/rose_leslie-1.jpg")
    left, top, right, bottom = verdicts(faces_dir / "rose_leslie/rose_leslie-1.jpg").face_box
    side = min(photo.width, photo.height, 2 * (right - left))
    centre_x, centre_y = (left + right) // 2, (top + bottom) // 2
    crop = photo.crop((max(0, centre_x - side // 2), max(0, centre_y - side // 2),
                       max(0, centre_x - side // 2) + side, max(0, centre_y - side // 2) + side))
    mirrored_crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((max(side, 600),) * 2)

    verdict = check_photo(encode(mirrored_crop, quality=90), known=known)

    assert_refused(verdict, "duplicate")
    assert verdict.duplicate_of == "original"
    assert verdict.checks["duplicate"]["mirrored"] is True


def test_the_mirrored_hash_is_the_hash_of_the_mirrored_picture(faces_dir):
    from avatars.engine.intake import perceptual_hashes

    photo = upright_photo(faces_dir, "biden/biden-2.jpg")
    as_is, mirrored = perceptual_hashes(photo)
    of_the_mirror, _ = perceptual_hashes(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))

    assert hash_distance(mirrored, of_the_mirror) <= 2
    assert hash_distance(as_is, mirrored) > IntakeLimits().max_duplicate_bits
