"""An uploaded file read safely: what its bytes are, the file checks (size, type, bomb,
animation, dimensions) and the decode to an upright RGB copy with no metadata.

Only the formats the first bytes name reach Pillow's decoders. A JPEG decodes reduced by
libjpeg's DCT scaling (`Image.draft`), so its cost hardly grows past the kept size; PNG, WebP
and HEIF decode every pixel and are refused past `max_full_decode_pixels` before decoding.
"""

from __future__ import annotations

import io
import math
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from avatars.engine.intake_limits import IntakeLimits

try:
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    register_heif_opener = None
else:
    register_heif_opener()


# What a file that is not a usable image is (the `what` figure of "not_an_image" and
# "unreadable"); "fake_format" and "unsupported_format" come with a `format` figure.
WHAT_CODES = (
    "pdf", "web_page", "archive", "not_a_picture", "fake_format", "unsupported_format",
    "empty", "damaged",
)

# What the first bytes say a file is. Only these formats reach Pillow's decoders.
_PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF")
_STILL_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "HEIF"}
_REDUCED_DECODE_FORMATS = {"JPEG", "MPO"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def sniff(data: bytes) -> tuple[str | None, str]:
    """The image format the bytes start like (or None) and, when not an image, what they look like
    (one of WHAT_CODES)."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG", ""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG", ""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP", ""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF", ""
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF", ""
    lowered = head.lstrip().lower()
    if head.startswith(b"%PDF"):
        return None, "pdf"
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml", b"<svg")):
        return None, "web_page"
    if head.startswith(b"PK\x03\x04"):
        return None, "archive"
    return None, "not_a_picture"


class PhotoRefusal(Exception):
    """A reason code (intake.REASON_CODES) and the figures its sentence names."""

    def __init__(self, code: str, **details):
        super().__init__(code)
        self.code = code
        self.details = details


@contextmanager
def _pillow_warnings():
    """A bomb warning becomes a refusal; "Corrupt EXIF data" is Pillow noticing what we ignore anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def open_photo(data: bytes, limits: IntakeLimits, checks: dict) -> Image.Image:
    size = len(data)
    checks["file_size"] = {"value": size, "limit": limits.max_bytes, "passed": 0 < size <= limits.max_bytes}
    if size == 0:
        raise PhotoRefusal("unreadable", what="empty")
    if size > limits.max_bytes:
        raise PhotoRefusal("too_large", size_mb=size / 2**20, limit_mb=limits.max_bytes / 2**20)
    sniffed, what = sniff(data)
    checks["format"] = {"value": sniffed, "passed": sniffed is not None}
    if sniffed is None:
        raise PhotoRefusal("not_an_image", what=what)
    try:
        with _pillow_warnings():
            image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PhotoRefusal("bomb", pixels=_declared_pixels(error)) from error
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError, EOFError) as error:
        checks["format"]["passed"] = False
        raise PhotoRefusal("not_an_image", what="fake_format", format=sniffed) from error
    checks["format"]["value"] = image.format
    width, height = image.size
    checks["dimensions"] = {
        "value": [width, height], "min_side": limits.min_side, "max_pixels": limits.max_pixels,
    }
    if width * height > limits.max_pixels:
        checks["dimensions"]["passed"] = False
        raise PhotoRefusal("bomb", pixels=width * height)
    # A phone's MPO holds the photo and a depth or preview frame: not an animation.
    if image.format != "MPO" and getattr(image, "is_animated", False):
        checks["animated"] = {"value": True, "passed": False}
        raise PhotoRefusal("animated")
    if image.format not in _STILL_FORMATS:
        raise PhotoRefusal("not_an_image", what="unsupported_format", format=image.format)
    if image.format not in _REDUCED_DECODE_FORMATS and width * height > limits.max_full_decode_pixels:
        checks["dimensions"]["passed"] = False
        raise PhotoRefusal("too_many_pixels", width=width, height=height, format=image.format,
                       limit_mp=limits.max_full_decode_pixels / 1_000_000)
    checks["dimensions"]["passed"] = min(width, height) >= limits.min_side
    if min(width, height) < limits.min_side:
        raise PhotoRefusal("too_small", width=width, height=height, min_side=limits.min_side)
    return image


def _declared_pixels(error: Exception) -> int:
    # Pillow's message is "Image size (400000000 pixels) exceeds limit of ...".
    words = str(error).replace("(", " ").split()
    numbers = [int(word) for word in words if word.isdigit()]
    return numbers[0] if numbers else 0


def decode_photo(image: Image.Image, limits: IntakeLimits) -> Image.Image:
    """The upright RGB picture, its longest side at most `kept_max_side`."""
    width, height = image.size
    if image.format in ("JPEG", "MPO"):
        # libjpeg can decode at 1/2, 1/4 or 1/8 scale almost for free; ask for no less
        # than 3/4 of the kept size so the final resize only ever shrinks a little.
        target = 0.75 * limits.kept_max_side / max(width, height)
        if target < 1.0:
            image.draft("RGB", (math.ceil(width * target), math.ceil(height * target)))
    try:
        with _pillow_warnings():
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PhotoRefusal("bomb", pixels=width * height) from error
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        raise PhotoRefusal("unreadable", what="damaged") from error
    try:
        with _pillow_warnings():
            ImageOps.exif_transpose(image, in_place=True)
    except Exception:  # noqa: BLE001 - a broken EXIF block only costs us the orientation
        pass
    icc_profile = image.info.get("icc_profile") if image.mode == "RGB" else None
    rgb = to_rgb(image)
    rgb.thumbnail((limits.kept_max_side, limits.kept_max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    # Pillow carries EXIF and XMP along in `info` and writes some of them back on save.
    rgb.info = {}
    # The colour profile is kept (a Display P3 photo looks washed out without it); it is
    # colour data, not metadata about the person. A CMYK one no longer fits the pixels.
    if icc_profile:
        rgb.info["icc_profile"] = icc_profile
    return rgb


def to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's own conversion of 16-bit grey clips at 255 instead of scaling.
        values = np.asarray(image, dtype=np.uint32 if mode == "I" else np.uint16)
        if values.max(initial=0) > 255:
            values = values // 257
        image = Image.fromarray(values.astype(np.uint8), mode="L")
    elif mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        image = flattened
    return image if image.mode == "RGB" else image.convert("RGB")


def encode_clean(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # A fresh JPEG: no EXIF (GPS, camera, time), no XMP, no comment; only the colour profile.
    image.save(buffer, format="JPEG", quality=92, icc_profile=image.info.get("icc_profile"))
    return buffer.getvalue()
