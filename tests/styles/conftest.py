"""The styles tests' uploads: a PNG, and an upload of a given format and size."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def png_upload(*, size=(64, 48), name="look.png", colour=(120, 90, 60), exif: bytes | None = None, fmt="PNG"):
    image = Image.new("RGB", size, colour)
    encoded = io.BytesIO()
    if exif is not None:
        image.save(encoded, format=fmt, exif=exif)
    else:
        image.save(encoded, format=fmt)
    return SimpleUploadedFile(name, encoded.getvalue(), content_type=f"image/{fmt.lower()}")


@pytest.fixture
def make_upload():
    return png_upload


