"""Likeness scoring of rendered pictures: the face scorer that rendering and training take as a callable.

Rendering and training never import face code: they are handed `score(image) -> float | None`
(and the finishing passes `find_face(image) -> box | None`). This module builds those
callables from the face and safety models, so the Django tasks only pass the avatar's centroid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

    from .faces import Box

Scorer = Callable[["Image.Image"], "float | None"]
FaceFinder = Callable[["Image.Image"], "Box | None"]


def portrait_scorer(centroid: Sequence[float] | None) -> Scorer:
    """score(image): 0-100 likeness of the largest face to `centroid`; None when the picture is
    unsafe, has no face, or there is no centroid to compare with (nothing measured)."""
    from .faces import face_embedding, likeness_score
    from .safety import nudity_verdict

    def score(image: "Image.Image") -> float | None:
        if not centroid:
            return None
        is_safe, _, _ = nudity_verdict(image)
        if not is_safe:
            return None
        embedding = face_embedding(image)
        if embedding is None:
            return None
        return likeness_score(embedding, centroid)

    return score


def largest_face_finder() -> FaceFinder:
    """find_face(image): the box of the largest face the scorer's detector finds, or None."""
    from .faces import detect_faces

    def find_face(image: "Image.Image") -> "Box | None":
        faces = detect_faces(image)
        return faces[0].box if faces else None

    return find_face
