"""Shared by the intake's tests: the shared photos of one person each, and small helpers to
encode a picture, remember an accepted photo and check a refusal."""

import io
import json

from PIL import Image

from avatars.engine.duplicates import KnownPhoto
from avatars.engine.intake import REASON_CODES

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
