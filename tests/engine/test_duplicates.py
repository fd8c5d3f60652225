"""The same shot, however it is copied, is a duplicate naming the photo it copies; another shot is not."""

import pytest
from PIL import Image, ImageOps

from avatars.engine.duplicates import hash_distance, perceptual_hashes
from avatars.engine.intake import check_photo
from avatars.engine.intake_limits import IntakeLimits
from tests.engine.intake_photos import assert_refused, encode, known_from, upright_photo


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
    photo = upright_photo(faces_dir, "biden/biden-2.jpg")
    as_is, mirrored = perceptual_hashes(photo)
    of_the_mirror, _ = perceptual_hashes(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT))

    assert hash_distance(mirrored, of_the_mirror) <= 2
    assert hash_distance(as_is, mirrored) > IntakeLimits().max_duplicate_bits
