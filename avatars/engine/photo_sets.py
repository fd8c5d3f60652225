"""A set of one person's photos: its identity centroid, the photos of someone else in it,
and the ones to train on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avatars.engine import faces as face_engine


@dataclass(frozen=True)
class TrainingCandidate:
    key: str
    quality_score: float | None
    embedding: Sequence[float] | None


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
