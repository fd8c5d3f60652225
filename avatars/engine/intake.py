"""Photo intake: decide whether one uploaded photo can train an avatar, and say why not.

`check_photo` takes the uploaded bytes and the photos already accepted into the same set,
and returns a `PhotoVerdict`: accepted or refused with one reason code and the figures a
sentence about it needs (the site words it, in the person's language), every measurement it
made, and an upright copy with no metadata to store. The checks run from cheap to dear and
stop at the first refusal that makes the rest meaningless: file (size, type, bomb, animation,
dimensions) and pixels (decoding), both in `photo_files`; the face (exactly one, big enough,
frontal, sharp, well lit); the set (not a duplicate, by `duplicates`; the same person, by
`photo_sets`) and safety (no nudity, which outranks every other reason once decoded). The
limits, each beside the measurement behind it, are `IntakeLimits` (intake_limits.py).

Speed: faces are detected on a 560 px copy, and the nudity check and the re-encoding of the
kept copy run on a helper thread while dlib and torch work (all release the GIL). The
identity network (dlib's ResNet run by torch, `identity_network`) embeds the face's chip and
its mirror image in one pass, and the two embeddings are averaged.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from avatars.engine import faces as face_engine
from avatars.engine import safety
from avatars.engine.duplicates import KnownPhoto, face_chip_hashes, nearest_by_embedding, nearest_by_hash
from avatars.engine.intake_limits import IntakeLimits
from avatars.engine.photo_files import PhotoRefusal, decode_photo, encode_clean, open_photo
from avatars.engine.photo_sets import find_identity_outliers, identity_centroid


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



# The reasons a photo can be refused. The engine says which one and the figures it found
# (`PhotoVerdict.reason_details`); the sentence a person reads, in their language, is
# written by the site (avatars/photo_verdicts.py), which must have one for every code.
REASON_CODES = (
    "not_an_image", "too_large", "too_small", "bomb", "too_many_pixels", "animated", "unreadable", "no_face",
    "several_faces", "face_too_small", "not_frontal", "blurry", "too_dark", "too_bright",
    "duplicate", "different_person", "unsafe",
)


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


# Frozen, so one instance serves every call that sets no limits of its own.
DEFAULT_LIMITS = IntakeLimits()


def check_photo(
    data: bytes, *, known: Sequence[KnownPhoto] = (), limits: IntakeLimits = DEFAULT_LIMITS,
) -> PhotoVerdict:
    """Check one uploaded photo against the rules and the photos already accepted into its set."""
    checks: dict = {}
    try:
        image = open_photo(data, limits, checks)
        kept = decode_photo(image, limits)
    except PhotoRefusal as refusal:
        return _refused(refusal.code, checks, **refusal.details)

    small = face_engine.detection_copy(kept)
    pool = _Helpers.pool()
    safety_future = pool.submit(safety.nudity_verdict, small, threshold=limits.max_nudity_score)
    cleaned_future = pool.submit(encode_clean, kept)
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

    verdict.perceptual_hash, mirrored_hash = face_chip_hashes(kept, main)
    nearest_hash = nearest_by_hash(verdict.perceptual_hash, mirrored_hash, known)
    if nearest_hash is not None:
        nearest, distance, mirrored = nearest_hash
        checks["duplicate"] = {"value": distance, "max": limits.max_duplicate_bits, "nearest": nearest.key,
                               "mirrored": mirrored, "of": "face chip",
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
    nearest_shot = nearest_by_embedding(embedding, known)
    if nearest_shot is None:
        return "", {}

    same_shot_key, same_shot_distance = nearest_shot
    checks["same_shot"] = {
        "value": round(same_shot_distance, 4), "max": limits.max_same_shot_distance, "nearest": same_shot_key,
        "passed": same_shot_distance > limits.max_same_shot_distance,
    }
    if same_shot_distance <= limits.max_same_shot_distance:
        verdict.duplicate_of = same_shot_key
        return "duplicate", {}
    others = [photo.embedding for photo in known if photo.embedding]
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
