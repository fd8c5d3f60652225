"""Face crops for people and for training: a square around a face, turned so the eyes are level.

The crop a person sees of a photo (its thumbnail, a refused photo's face) and the crop the
avatar trains on come from here; which face, and where its landmarks are, come from faces.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .faces import DetectedFace, detect_faces


def crop_face(image: Image.Image, box: Sequence[int] | None, *, size: int, margin: float) -> Image.Image:
    """A square crop centred on the face, `margin` face-widths added on each side, resized to `size`.

    The square is shifted to stay inside the picture and shrunk to its shorter side if it
    must be; without a box the crop is the picture's centre square.
    """
    width, height = image.size
    if box is None:
        side = min(width, height)
        centre_x, centre_y = width / 2, height / 2
    else:
        left, top, right, bottom = box
        side = max(right - left, bottom - top) * (1.0 + 2.0 * margin)
        side = min(side, width, height)
        centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    left = min(max(0.0, centre_x - side / 2), width - side)
    top = min(max(0.0, centre_y - side / 2), height - side)
    crop_box = (round(left), round(top), round(left + side), round(top + side))
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return rgb.resize((size, size), Image.Resampling.LANCZOS, box=crop_box)


# The roll read from the 5 landmarks is within 0.5 degrees of the true turn (the shared
# photos turned by +-15 and 25 degrees); turning a photo by less than twice that corrects
# nothing and only softens it with one more resampling.
_MIN_ROLL_DEGREES = 1.0


def aligned_face_crop(
    image: Image.Image,
    *,
    size: int,
    margin: float,
    landmarks: np.ndarray | None = None,
    box: Sequence[int] | None = None,
) -> Image.Image:
    """The square crop of `crop_face` (`margin` face-widths each side, resized to `size`),
    turned so the eyes are level: the roll is the slope of the line through the two eye
    centres of the 5 landmarks.

    Without `landmarks` the face is detected: the one that overlaps `box` most (the face the
    intake chose), or the largest when there is no box. When no face is found, or none
    overlaps `box`, the crop is `crop_face`'s, unturned. The turned square is kept inside the
    picture (shifted, then shrunk if it must be), so no blank corner enters the crop.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if landmarks is None:
        faces = detect_faces(rgb)

        def overlap(face: DetectedFace) -> float:
            if box is None:
                return face.width * face.height
            width = min(face.box[2], box[2]) - max(face.box[0], box[0])
            height = min(face.box[3], box[3]) - max(face.box[1], box[1])
            return max(0, width) * max(0, height)

        face = max(faces, key=overlap, default=None)
        if face is None or overlap(face) == 0:
            return crop_face(rgb, box, size=size, margin=margin)
        landmarks, box = face.landmarks, box if box is not None else face.box
    elif box is None:
        raise ValueError("aligned_face_crop needs the face's box with its landmarks")

    eyes = sorted((landmarks[0:2].mean(axis=0), landmarks[2:4].mean(axis=0)), key=lambda centre: centre[0])
    (left_x, left_y), (right_x, right_y) = eyes
    roll = math.atan2(right_y - left_y, right_x - left_x)
    if abs(math.degrees(roll)) < _MIN_ROLL_DEGREES:
        return crop_face(rgb, box, size=size, margin=margin)

    width, height = rgb.size
    left, top, right, bottom = box
    side = max(right - left, bottom - top) * (1.0 + 2.0 * margin)
    # The turned square's upright bounding square: it is what must fit inside the picture.
    spread = abs(math.cos(roll)) + abs(math.sin(roll))
    side = min(side, min(width, height) / spread)
    half_extent = side * spread / 2
    centre_x = min(max(half_extent, (left + right) / 2), width - half_extent)
    centre_y = min(max(half_extent, (top + bottom) / 2), height - half_extent)
    # Scale first (Lanczos filters the downsizing), then turn at the final resolution, then
    # cut the square out of the middle.
    bounding_size = max(size, round(size * spread))
    bounding = rgb.resize(
        (bounding_size, bounding_size),
        Image.Resampling.LANCZOS,
        # Clamped: rounding can put a side a hair outside the picture.
        box=(
            max(0.0, centre_x - half_extent),
            max(0.0, centre_y - half_extent),
            min(width, centre_x + half_extent),
            min(height, centre_y + half_extent),
        ),
    )
    # PIL turns counter-clockwise on screen; the eye line slopes down by `roll` to the right.
    turned = bounding.rotate(math.degrees(roll), resample=Image.Resampling.BICUBIC)
    offset = (bounding_size - size) // 2
    return turned.crop((offset, offset, offset + size, offset + size))
