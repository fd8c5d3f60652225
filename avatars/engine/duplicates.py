"""Duplicates: the same shot, recognised by what a copy does not change.

The perceptual hash of the face chip aligned by an affine map of its 5 landmarks (a stretch,
crop, shift or turn of the photo is undone; the hash is of grey levels, so a tint or greying
is ignored; a mirror image flips known bits), and the identity embedding's distance to each
accepted photo. The thresholds, with their measurements, are `IntakeLimits.max_duplicate_bits`
and `max_same_shot_distance`; `intake.check_photo` applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from avatars.engine import faces as face_engine


@dataclass(frozen=True)
class KnownPhoto:
    """A photo already accepted into the set, as a new one is compared with it."""

    key: str
    perceptual_hash: str
    embedding: list[float] | None = None


# The face chip that is hashed: 32 px, the size the hash reads (its 8 x 8 lowest frequencies).
_HASH_CHIP_SIDE = 32


def face_chip_hashes(image: Image.Image, face: face_engine.DetectedFace) -> tuple[str, str]:
    """The pHash of the face's affine-aligned chip and of its mirror image. The hash of the face,
    not of the frame: the chip undoes a stretch, a crop or a turn, and the hash ignores colour,
    so a stretched, recropped, tinted or greyed copy hashes alike."""
    return perceptual_hashes(face_engine.affine_face_chip(image, face, size=_HASH_CHIP_SIDE))


def nearest_by_hash(face_hash: str, mirrored_hash: str, known: Sequence[KnownPhoto]) -> tuple[KnownPhoto, int, bool] | None:
    """The known photo whose hash is nearest the face's or its mirror image's, that distance in
    bits, and whether the mirror image is the nearer; None when no known photo has a hash."""
    def distances(photo: KnownPhoto) -> tuple[int, int]:
        return hash_distance(face_hash, photo.perceptual_hash), hash_distance(mirrored_hash, photo.perceptual_hash)

    hashed = [photo for photo in known if photo.perceptual_hash]
    nearest = min(hashed, key=lambda photo: min(distances(photo)), default=None)
    if nearest is None:
        return None
    as_is, mirrored = distances(nearest)
    return nearest, min(as_is, mirrored), mirrored < as_is


def nearest_by_embedding(embedding: Sequence[float], known: Sequence[KnownPhoto]) -> tuple[str, float] | None:
    """The key of the known photo whose identity embedding is nearest, and the distance; None
    when no known photo has one."""
    distances = [(photo.key, face_engine.identity_distance(embedding, photo.embedding))
                 for photo in known if photo.embedding]
    return min(distances, key=lambda pair: pair[1], default=None)


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
