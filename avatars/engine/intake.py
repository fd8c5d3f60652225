"""Photo intake: decide whether one uploaded photo can train an avatar, and say why not.

`check_photo` takes the uploaded bytes and the photos already accepted into the same set,
and returns a `PhotoVerdict`: accepted or refused with one reason code and the figures a
sentence about it needs (the site words it, in the person's language), every measurement it made, and an upright copy with no metadata to
store. The checks run from cheap to dear and stop at the first refusal that makes the
rest meaningless: file (size, type, bomb, animation, dimensions), pixels (decoding), the
face (exactly one, big enough, frontal, sharp, well lit), the set (not a duplicate, the
same person) and safety (no nudity, which outranks every other reason once decoded).

Speed: a 12 MP JPEG is decoded at half scale by libjpeg's DCT scaling (`Image.draft`), a
PNG, WebP or HEIF (which decode every pixel) is capped at `max_full_decode_pixels`, faces
are detected on a 560 px copy, and the nudity check and the re-encoding of the kept copy
run on a helper thread while dlib works (all release the GIL). The identity network (~90 ms
a pass on dlib built without BLAS) is the dearest step: two passes a photo, the face's chip
and its mirror image, whose embeddings are averaged.

Duplicates are recognised by what a copy does not change: the perceptual hash of the face
chip aligned by an affine map of its 5 landmarks (a stretch, crop, shift or turn of the
photo is undone; the hash is of grey levels, so a tint or greying is ignored), and the
identity embedding's distance to each accepted photo.

`find_identity_outliers` and `choose_training_photos` work on a whole set, once its
majority is known.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from avatars.engine import faces as face_engine
from avatars.engine import safety

try:
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    register_heif_opener = None
else:
    register_heif_opener()


@dataclass(frozen=True)
class IntakeLimits:
    min_side: int = 512
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000  # decompression-bomb guard: a 48 MP phone photo still fits
    # A JPEG decodes reduced (libjpeg's DCT scaling), so its cost hardly grows past the kept
    # size; PNG, WebP and HEIF decode every pixel (a 49 MP RGBA PNG: 2.6 s, ~300 MB). Capped
    # where their full decode costs about what a 12 MP JPEG's whole check does (bench/intake.py).
    max_full_decode_pixels: int = 16_000_000
    # The kept copy: enough for SDXL's 1024 px face crops, small enough to store 20 of.
    kept_max_side: int = 2048
    # The face box (dlib's: brows to chin) against the shorter side. A selfie at arm's
    # length gives 25-50%; below 12% the person is a figure in a landscape.
    min_face_fraction: float = 0.12
    # In the kept copy's pixels, where training crops come from: below ~96 px a 512 px
    # training crop is upscaled more than ~2.4x and the skin turns to mush.
    min_face_px: int = 96
    # Another face at least this fraction of the main face's width is another person in the
    # picture; smaller ones are far in the background and fall outside the training crop.
    other_face_fraction: float = 0.33
    # Past ~30 degrees of yaw the far eye and cheek are hidden: the LoRA learns a profile.
    # Yaw from the 5-point landmarks (faces.yaw_degrees): within 3.1 degrees of the 68-point
    # estimate on average over 375 faces, agreeing with it about this threshold on 95.5%.
    max_yaw_degrees: float = 30.0
    # Variance of the Laplacian of the face at 256 px. Sharp phone selfies give 100-3000, a
    # soft video still ~20; a 3 px Gaussian blur of a 1000 px photo drops any of them under 12.
    min_sharpness: float = 12.0
    # Mean grey level of the face (0-255) and the share of its pixels clipped to white.
    min_brightness: float = 60.0
    max_brightness: float = 200.0
    max_clipped_fraction: float = 0.2
    # 64-bit pHash of the affine-aligned face chip. Copies of 21 shots (the shared faces and 7
    # of the LFW extras, enlarged): stretched 12% and 20% across, recropped, tinted, greyed,
    # mirrored, turned 10 degrees all within 10 bits (0-10); stretched 35%, 4 of 42 over it
    # (up to 16). 1,030 pairs of different shots of one person (LFW's 750, the 24 extras', the
    # shared faces'): median 24 bits; 7 within 10 (0.68% refused), 17 within 12, 31 within 14.
    max_duplicate_bits: int = 10
    # The same shot by the identity embedding (mirror-averaged): a crop, tint, turn or mirror
    # of a photo embeds within 0.12 of it, while LFW's 750 same-person pairs are all farther
    # than 0.164 (none refused). A stretch moves the embedding 0.2-0.42 and greying up to
    # 0.23, as far as two shots of one person: the face chip's hash catches those.
    max_same_shot_distance: float = 0.15
    # Distance to the set's centroid: one person's photos lie within ~0.45 of their mean,
    # another person's ~0.65 and beyond (dlib's pairwise threshold is 0.6).
    max_identity_distance: float = 0.55
    max_nudity_score: float = safety.DEFAULT_THRESHOLD


@dataclass(frozen=True)
class KnownPhoto:
    key: str
    perceptual_hash: str
    embedding: list[float] | None = None


@dataclass
class PhotoVerdict:
    accepted: bool
    reason_code: str
    reason_details: dict = field(default_factory=dict)  # the figures its sentence names
    checks: dict = field(default_factory=dict)
    width: int | None = None  # of the kept copy, which face_box refers to
    height: int | None = None
    face_box: list[int] | None = None
    embedding: list[float] | None = None
    perceptual_hash: str = ""
    quality_score: float | None = None
    cleaned_image: bytes | None = None
    duplicate_of: str | None = None
    cleaned_format: str = "JPEG"


@dataclass(frozen=True)
class TrainingCandidate:
    key: str
    quality_score: float | None
    embedding: Sequence[float] | None


# The reasons a photo can be refused. The engine says which one and the figures it found
# (`PhotoVerdict.reason_details`); the sentence a person reads, in their language, is
# written by the site (avatars/photo_verdicts.py), which must have one for every code.
REASON_CODES = (
    "not_an_image", "too_large", "too_small", "bomb", "too_many_pixels", "animated", "unreadable", "no_face",
    "several_faces", "face_too_small", "not_frontal", "blurry", "too_dark", "too_bright",
    "duplicate", "different_person", "unsafe",
)
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


def _sniff(data: bytes) -> tuple[str | None, str]:
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


# ---- decoding ---------------------------------------------------------------------------

class _Refusal(Exception):
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


def _open(data: bytes, limits: IntakeLimits, checks: dict) -> Image.Image:
    size = len(data)
    checks["file_size"] = {"value": size, "limit": limits.max_bytes, "passed": 0 < size <= limits.max_bytes}
    if size == 0:
        raise _Refusal("unreadable", what="empty")
    if size > limits.max_bytes:
        raise _Refusal("too_large", size_mb=size / 2**20, limit_mb=limits.max_bytes / 2**20)
    sniffed, what = _sniff(data)
    checks["format"] = {"value": sniffed, "passed": sniffed is not None}
    if sniffed is None:
        raise _Refusal("not_an_image", what=what)
    try:
        with _pillow_warnings():
            image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _Refusal("bomb", pixels=_declared_pixels(error)) from error
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError, EOFError) as error:
        checks["format"]["passed"] = False
        raise _Refusal("not_an_image", what="fake_format", format=sniffed) from error
    checks["format"]["value"] = image.format
    width, height = image.size
    checks["dimensions"] = {
        "value": [width, height], "min_side": limits.min_side, "max_pixels": limits.max_pixels,
    }
    if width * height > limits.max_pixels:
        checks["dimensions"]["passed"] = False
        raise _Refusal("bomb", pixels=width * height)
    # A phone's MPO holds the photo and a depth or preview frame: not an animation.
    if image.format != "MPO" and getattr(image, "is_animated", False):
        checks["animated"] = {"value": True, "passed": False}
        raise _Refusal("animated")
    if image.format not in _STILL_FORMATS:
        raise _Refusal("not_an_image", what="unsupported_format", format=image.format)
    if image.format not in _REDUCED_DECODE_FORMATS and width * height > limits.max_full_decode_pixels:
        checks["dimensions"]["passed"] = False
        raise _Refusal("too_many_pixels", width=width, height=height, format=image.format,
                       limit_mp=limits.max_full_decode_pixels / 1_000_000)
    checks["dimensions"]["passed"] = min(width, height) >= limits.min_side
    if min(width, height) < limits.min_side:
        raise _Refusal("too_small", width=width, height=height, min_side=limits.min_side)
    return image


def _declared_pixels(error: Exception) -> int:
    # Pillow's message is "Image size (400000000 pixels) exceeds limit of ...".
    words = str(error).replace("(", " ").split()
    numbers = [int(word) for word in words if word.isdigit()]
    return numbers[0] if numbers else 0


def _decode(image: Image.Image, limits: IntakeLimits) -> Image.Image:
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
        raise _Refusal("bomb", pixels=width * height) from error
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        raise _Refusal("unreadable", what="damaged") from error
    try:
        with _pillow_warnings():
            ImageOps.exif_transpose(image, in_place=True)
    except Exception:  # noqa: BLE001 - a broken EXIF block only costs us the orientation
        pass
    icc_profile = image.info.get("icc_profile") if image.mode == "RGB" else None
    rgb = _to_rgb(image)
    rgb.thumbnail((limits.kept_max_side, limits.kept_max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    # Pillow carries EXIF and XMP along in `info` and writes some of them back on save.
    rgb.info = {}
    # The colour profile is kept (a Display P3 photo looks washed out without it); it is
    # colour data, not metadata about the person. A CMYK one no longer fits the pixels.
    if icc_profile:
        rgb.info["icc_profile"] = icc_profile
    return rgb


def _to_rgb(image: Image.Image) -> Image.Image:
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


def _encode_clean(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # A fresh JPEG: no EXIF (GPS, camera, time), no XMP, no comment; only the colour profile.
    image.save(buffer, format="JPEG", quality=92, icc_profile=image.info.get("icc_profile"))
    return buffer.getvalue()


# ---- measurements -----------------------------------------------------------------------

def perceptual_hash(image: Image.Image) -> str:
    """64-bit pHash as 16 hex digits: the lowest 8x8 DCT frequencies of a 32x32 grey copy, each
    against their median."""
    return perceptual_hashes(image)[0]


def perceptual_hashes(image: Image.Image) -> tuple[str, str]:
    """The pHash of the picture and of its mirror image. Mirroring a picture only flips the
    sign of its odd horizontal frequencies, so both come from one DCT."""
    grey = image.convert("L").resize((32, 32), Image.Resampling.BILINEAR, reducing_gap=2.0)
    low = (_DCT_32 @ np.asarray(grey, dtype=np.float64) @ _DCT_32.T)[:8, :8]
    return _hash_bits(low), _hash_bits(low * _MIRROR_SIGNS)


def _hash_bits(low: np.ndarray) -> str:
    bits = low.flatten() > np.median(low)
    return f"{int(''.join('1' if bit else '0' for bit in bits), 2):016x}"


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    return np.cos(np.pi * (2 * i + 1) * k / (2 * n))


_DCT_32 = _dct_matrix(32)
_MIRROR_SIGNS = np.array([[(-1.0) ** column for column in range(8)] for _ in range(8)])


def hash_distance(first: str, second: str) -> int:
    return (int(first, 16) ^ int(second, 16)).bit_count()


def _laplacian_variance(grey: np.ndarray) -> float:
    values = grey.astype(np.float64)
    laplacian = (values[1:-1, :-2] + values[1:-1, 2:] + values[:-2, 1:-1] + values[2:, 1:-1]
                 - 4.0 * values[1:-1, 1:-1])
    return float(laplacian.var())


_FACE_MEASURE_SIDE = 256


def _face_measurements(image: Image.Image, face: face_engine.DetectedFace) -> dict:
    # Measured on the face resized to 256 px, so a blur means the same at any photo size.
    face = image.crop(face.box).convert("L")
    grey = np.asarray(face.resize((_FACE_MEASURE_SIDE, _FACE_MEASURE_SIDE), Image.Resampling.BILINEAR))
    return {
        "sharpness": _laplacian_variance(grey),
        "brightness": float(grey.mean()),
        "clipped_fraction": float(np.mean(grey >= 250)),
    }


def _quality_score(*, sharpness: float, face_fraction: float, yaw: float, brightness: float,
                   limits: IntakeLimits) -> float:
    """0-1 for ranking a set's photos: sharpness 40%, face size 25%, pose 20%, exposure 15%."""
    # Sharpness counts on a log scale: 10x the floor is as good as it gets.
    sharp = min(1.0, max(0.0, math.log(max(sharpness, 1e-6) / limits.min_sharpness) / math.log(10)))
    # A face filling 35% of the shorter side gives a close, detailed training crop.
    size = min(1.0, max(0.0, (face_fraction - limits.min_face_fraction) / (0.35 - limits.min_face_fraction)))
    pose = max(0.0, 1.0 - yaw / limits.max_yaw_degrees)
    middle = (limits.min_brightness + limits.max_brightness) / 2
    exposure = max(0.0, 1.0 - abs(brightness - middle) / (middle - limits.min_brightness))
    return round(0.4 * sharp + 0.25 * size + 0.2 * pose + 0.15 * exposure, 4)


# ---- the check --------------------------------------------------------------------------

class _Helpers:
    """One helper thread per process for the work that overlaps dlib's."""

    _lock = threading.Lock()
    _pool: ThreadPoolExecutor | None = None

    @classmethod
    def pool(cls) -> ThreadPoolExecutor:
        if cls._pool is None:
            with cls._lock:
                if cls._pool is None:
                    cls._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo-intake")
        return cls._pool


def load_models() -> None:
    """Load every intake model now, so the first photo is as fast as the rest."""
    face_engine.load_models()
    safety.load_models()


def check_photo(
    data: bytes, *, known: Sequence[KnownPhoto] = (), limits: IntakeLimits = IntakeLimits(),
) -> PhotoVerdict:
    """Check one uploaded photo against the rules and the photos already accepted into its set."""
    checks: dict = {}
    try:
        image = _open(data, limits, checks)
        kept = _decode(image, limits)
    except _Refusal as refusal:
        return _refused(refusal.code, checks, **refusal.details)

    small = face_engine.detection_copy(kept)
    pool = _Helpers.pool()
    safety_future = pool.submit(safety.nudity_verdict, small, threshold=limits.max_nudity_score)
    cleaned_future = pool.submit(_encode_clean, kept)
    verdict = PhotoVerdict(
        accepted=False, reason_code="", checks=checks, width=kept.width, height=kept.height,
    )
    faces = face_engine.detect_faces(kept, small=small)
    code, details = _check_pixels(kept, faces, verdict, known, limits)
    return _finish(verdict, code, details, safety_future, cleaned_future)


def _check_pixels(
    kept: Image.Image, faces: list[face_engine.DetectedFace], verdict: PhotoVerdict,
    known: Sequence[KnownPhoto], limits: IntakeLimits,
) -> tuple[str, dict]:
    """The reason code ("" when accepted) after the face and set checks; fills in `verdict`."""
    checks = verdict.checks
    if not faces:
        checks["faces"] = {"value": 0, "passed": False}
        return _no_face_reason(kept, limits, checks), {}
    main = faces[0]
    people = [face for face in faces if face.width >= limits.other_face_fraction * main.width]
    checks["faces"] = {"value": len(people), "detected": len(faces), "passed": len(people) == 1}
    if len(people) > 1:
        return "several_faces", {"count": len(people)}
    verdict.face_box = list(main.box)

    # The hash of the face, not of the frame: the chip undoes a stretch, a crop or a turn, and
    # the hash ignores colour, so a stretched, recropped, tinted or greyed copy hashes alike.
    chip = face_engine.affine_face_chip(kept, main, size=_HASH_CHIP_SIDE)
    verdict.perceptual_hash, mirrored_hash = perceptual_hashes(chip)

    def hash_distances(photo: KnownPhoto) -> tuple[int, int]:
        return (hash_distance(verdict.perceptual_hash, photo.perceptual_hash),
                hash_distance(mirrored_hash, photo.perceptual_hash))

    hashed = [photo for photo in known if photo.perceptual_hash]
    nearest = min(hashed, key=lambda photo: min(hash_distances(photo)), default=None)
    if nearest is not None:
        as_is, mirrored = hash_distances(nearest)
        distance = min(as_is, mirrored)
        checks["duplicate"] = {"value": distance, "max": limits.max_duplicate_bits, "nearest": nearest.key,
                               "mirrored": mirrored < as_is, "of": "face chip",
                               "passed": distance > limits.max_duplicate_bits}
        if distance <= limits.max_duplicate_bits:
            verdict.duplicate_of = nearest.key
            return "duplicate", {}

    face_fraction = main.width / min(kept.size)
    yaw = face_engine.yaw_degrees(main.landmarks)
    measured = _face_measurements(kept, main)
    checks["face_size"] = {
        "value": round(face_fraction, 4), "min": limits.min_face_fraction,
        "pixels": main.width, "min_pixels": limits.min_face_px,
        "passed": face_fraction >= limits.min_face_fraction and main.width >= limits.min_face_px,
    }
    checks["yaw"] = {
        "value": round(yaw, 1), "max": limits.max_yaw_degrees, "passed": yaw <= limits.max_yaw_degrees,
    }
    checks["sharpness"] = {"value": round(measured["sharpness"], 2), "min": limits.min_sharpness,
                           "passed": measured["sharpness"] >= limits.min_sharpness}
    too_dark = measured["brightness"] < limits.min_brightness
    too_bright = (measured["brightness"] > limits.max_brightness
                  or measured["clipped_fraction"] > limits.max_clipped_fraction)
    checks["brightness"] = {"value": round(measured["brightness"], 1), "min": limits.min_brightness,
                            "max": limits.max_brightness, "passed": not (too_dark or too_bright)}
    checks["clipped"] = {"value": round(measured["clipped_fraction"], 4), "max": limits.max_clipped_fraction,
                         "passed": measured["clipped_fraction"] <= limits.max_clipped_fraction}
    verdict.quality_score = _quality_score(
        sharpness=measured["sharpness"], face_fraction=face_fraction, yaw=yaw,
        brightness=measured["brightness"], limits=limits,
    )
    # Exposure before sharpness: a dark face has faint edges and would read as blurry.
    for code, passed in (
        ("face_too_small", checks["face_size"]["passed"]),
        ("not_frontal", checks["yaw"]["passed"]),
        ("too_dark", not too_dark),
        ("too_bright", not too_bright),
        ("blurry", checks["sharpness"]["passed"]),
    ):
        if not passed:
            return code, {}

    embedding = face_engine.embed_face(kept, main)
    verdict.embedding = [round(float(value), 6) for value in embedding]
    known_embeddings = [(photo.key, photo.embedding) for photo in known if photo.embedding]
    if not known_embeddings:
        return "", {}

    same_shot_key, same_shot_distance = min(
        ((key, face_engine.identity_distance(embedding, other)) for key, other in known_embeddings),
        key=lambda pair: pair[1],
    )
    checks["same_shot"] = {
        "value": round(same_shot_distance, 4), "max": limits.max_same_shot_distance, "nearest": same_shot_key,
        "passed": same_shot_distance > limits.max_same_shot_distance,
    }
    if same_shot_distance <= limits.max_same_shot_distance:
        verdict.duplicate_of = same_shot_key
        return "duplicate", {}
    others = [other for _, other in known_embeddings]
    # The centroid of the set's majority, so an earlier photo of someone else does not pull it away.
    outliers = set(find_identity_outliers(others))
    centroid = identity_centroid([other for index, other in enumerate(others) if index not in outliers])
    distance = face_engine.identity_distance(embedding, centroid)
    checks["identity"] = {"value": round(distance, 4), "max": limits.max_identity_distance,
                          "compared_with": len(others) - len(outliers),
                          "passed": distance <= limits.max_identity_distance}
    if distance > limits.max_identity_distance:
        return "different_person", {}
    return "", {}


# The face chip that is hashed: 32 px, the size the hash reads (its 8 x 8 lowest frequencies).
_HASH_CHIP_SIDE = 32

# A photo whose brightest 1% is still darker than this is underexposed as a whole (a
# dark jacket or background alone leaves highlights elsewhere).
_UNDEREXPOSED_HIGHLIGHTS = 100


def _no_face_reason(kept: Image.Image, limits: IntakeLimits, checks: dict) -> str:
    # Darkness or glare can hide a face from the detector: say so rather than "no face".
    small = kept.convert("L").resize((128, 128), Image.Resampling.BILINEAR, reducing_gap=2.0)
    grey = np.asarray(small)
    highlights, clipped = float(np.percentile(grey, 99)), float(np.mean(grey >= 250))
    checks["exposure"] = {
        "highlights": round(highlights, 1), "clipped": round(clipped, 4), "of": "whole photo",
        "passed": highlights >= _UNDEREXPOSED_HIGHLIGHTS and clipped <= limits.max_clipped_fraction,
    }
    if highlights < _UNDEREXPOSED_HIGHLIGHTS:
        return "too_dark"
    if clipped > limits.max_clipped_fraction:
        return "too_bright"
    return "no_face"


def _finish(verdict: PhotoVerdict, code: str, details: dict, safety_future: Future,
            cleaned_future: Future) -> PhotoVerdict:
    nudity = safety_future.result()
    verdict.checks["nudity"] = {"value": nudity.score, "labels": nudity.labels, "passed": nudity.is_safe}
    if not nudity.is_safe:
        code, details = "unsafe", {}
        verdict.duplicate_of = None
    verdict.cleaned_image = cleaned_future.result()
    verdict.accepted = code == ""
    verdict.reason_code = code
    verdict.reason_details = details
    return verdict


def _refused(code: str, checks: dict, **details) -> PhotoVerdict:
    return PhotoVerdict(accepted=False, reason_code=code, reason_details=details, checks=checks)


# ---- the set ----------------------------------------------------------------------------

def identity_centroid(embeddings: Sequence[Sequence[float]]) -> list[float]:
    """The mean embedding: what a person's likeness is measured against. Empty for no embeddings."""
    vectors = [np.asarray(embedding, dtype=np.float64) for embedding in embeddings if embedding is not None]
    if not vectors:
        return []
    return [round(float(value), 6) for value in np.mean(vectors, axis=0)]


def find_identity_outliers(embeddings: Sequence[Sequence[float]], *,
                           threshold: float = face_engine.SAME_PERSON_DISTANCE) -> list[int]:
    """Indexes of the photos that are not of the set's majority person.

    The photo with the most others within `threshold` (dlib's same-person distance) anchors
    the majority; its group's centroid is recomputed once, and every photo farther than
    `threshold` from it is an outlier. So a friend's photo uploaded first is caught once
    the person's own photos outnumber it. A tie goes to the tighter group.
    """
    vectors = np.asarray([list(embedding) for embedding in embeddings], dtype=np.float64)
    count = len(vectors)
    if count < 2:
        return []
    distances = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    close = distances <= threshold
    neighbours = close.sum(axis=1)
    spread = np.where(close, distances, 0.0).sum(axis=1) / neighbours
    anchor = min(range(count), key=lambda index: (-neighbours[index], spread[index]))
    group = close[anchor]
    centroid = vectors[group].mean(axis=0)
    to_centroid = np.linalg.norm(vectors - centroid, axis=1)
    group = to_centroid <= threshold
    if group.any():
        to_centroid = np.linalg.norm(vectors - vectors[group].mean(axis=0), axis=1)
    return [index for index in range(count) if to_centroid[index] > threshold]


def choose_training_photos(candidates: Sequence[TrainingCandidate], *, limit: int) -> list[str]:
    """The keys of the best `limit` photos to train on, best first.

    As FaceChain and EasyPhoto do: drop photos of anyone but the majority person, then rank
    by a blend of photo quality and closeness to the person's mean face (a photo near the
    centroid shows the face as it usually is, without odd expressions or angles).
    """
    usable = [candidate for candidate in candidates if candidate.embedding]
    if not usable or limit <= 0:
        return []
    outliers = set(find_identity_outliers([candidate.embedding for candidate in usable]))
    majority = [candidate for index, candidate in enumerate(usable) if index not in outliers]
    centroid = identity_centroid([candidate.embedding for candidate in majority])

    def rank(candidate: TrainingCandidate) -> float:
        closeness = face_engine.likeness_score(candidate.embedding, centroid) / 100.0
        return 0.6 * (candidate.quality_score or 0.0) + 0.4 * closeness

    return [candidate.key for candidate in sorted(majority, key=rank, reverse=True)[:limit]]
