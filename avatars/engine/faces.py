"""Faces: detection, 5-point landmarks, 128-d identity embeddings and the likeness score.

Everything runs on weights a paid product may use (models.md): the HOG frontal face detector
(in dlib's code) and the 5-point shape predictor on dlib, and dlib's ResNet face recognition
model (the one behind dlib's 99.38% on LFW, same person below 0.6), both public domain, run by
torch (`identity_network`: the same weights, several times faster than the dlib wheel, which
has no BLAS). The models load once per process, on first use, through weights.py.

The pipeline is dlib's reference usage (face_recognition's defaults: the detector on the RGB
picture, upsampled once for small pictures, landmarks in the detector's own rectangle, one
chip) plus what bench/identity.py measured to help: detection on a reduced copy of a large
photo, the chip cut from the full-size pixels, and the embedding averaged with the mirror
image's (on LFW 99.13% -> 99.33% at 0.6, for a second pass of the network). The network
sees only aligned 150 px chips, through embed_chips (one call for a face's chips); which
chips a face gives and how their embeddings are averaged are face_chips' and embed_face's.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import identity_network
from .weights import licensed_weights

Box = tuple[int, int, int, int]  # left, top, right, bottom

# The HOG detector (80 px window, 5/6 pyramid) finds faces down to about 65 px. Detecting
# on a copy whose shorter side is 560 px therefore finds every face at least 11.6% of the
# shorter side wide, which covers the intake's 12% floor, at a fraction of the cost of
# the full picture (HOG time grows with the pixel count). A smaller picture is looked at
# twice as large as well, as face_recognition's default upsampling does: a 250 px LFW
# photo's ~90 px face is at the edge of what the window sees. (Enlarging it to 560 px
# instead found fewer: 3 of bench/identity.py's 300 photos without a face, against 1.)
# Upsampling LFW's photos twice instead lost 2 faces of 300; with those looked at once, 6 of
# the 1,500 pairs were wrong at 0.6 rather than 10, but 9 at 0.59 and 0.61 and the same
# ROC AUC (0.9998): where the errors fell, not a better ranking, so not kept.
DETECTION_SHORT_SIDE = 560

# dlib's own threshold: two embeddings closer than this are the same person.
SAME_PERSON_DISTANCE = 0.6
# Likeness maps a distance d to 100 / (1 + exp(k (d - 0.6))): 0.6 gives 50, and k is
# chosen so 0.3 (a clear match, typical of two photos of one person) gives 90.
# 0.0 gives ~99, 0.45 ~75, 0.75 ~25, 0.9 ~10.
LIKENESS_STEEPNESS = math.log(9) / 0.3

# The recognition network's input: a 150 px chip with 25% padding, cut as dlib.get_face_chip does.
_CHIP_SIZE = 150
_CHIP_PADDING = 0.25
# Both public domain (models.md): the 5-point model finds one eye's two corners, the
# other's two corners and the nose base, which is all the chip's alignment needs.
LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"
IDENTITY_MODEL = identity_network.SOURCE_MODEL

# The subnasale sits about 0.7 half-eye-distances in front of the eye corners, so a head
# turned by yaw y moves the nose base off the eyes' midpoint by 0.7 tan(y) half-distances.
# Read from the 5-point model's nose base, the yaw is within 3.1 degrees of the same estimate
# from the 68-point model's landmarks on average (median 2.2, 90% within 6.2, correlation
# 0.92; 375 faces: the LFW set, its 24 extra photos, the shared test photos). It reads lower on
# turned heads: past the intake's 30 degrees it finds 23 of those faces, the 68-point 38, and
# the two agree on 95.5% of faces.
_NOSE_DEPTH_IN_HALF_EYE_DISTANCES = 0.7


@dataclass(frozen=True)
class DetectedFace:
    box: Box
    landmarks: np.ndarray = field(repr=False, compare=False)  # 5 x 2: two eye corners each, nose base
    detection_score: float = 0.0
    shape: object = field(default=None, repr=False, compare=False)  # dlib.full_object_detection

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


# dlib's detector, landmark and embedding objects are not safe to share between threads:
# two web requests checking photos at once aborted the whole process. One call at a time.
_DLIB_CALLS = threading.Lock()


class _Models:
    _lock = threading.Lock()
    _loaded: tuple | None = None

    @classmethod
    def get(cls) -> tuple:
        if cls._loaded is None:
            with cls._lock:
                if cls._loaded is None:
                    import dlib

                    landmarks = licensed_weights("face_recognition_models", LANDMARK_MODEL)
                    cls._loaded = (
                        dlib.get_frontal_face_detector(),
                        dlib.shape_predictor(landmarks),
                        identity_network.load_network(),
                    )
        return cls._loaded


def load_models() -> None:
    """Load the face models now rather than on the first photo."""
    _Models.get()


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


def detection_copy(image: Image.Image) -> Image.Image:
    """The copy faces are looked for in: its shorter side at most DETECTION_SHORT_SIDE."""
    width, height = image.size
    scale = DETECTION_SHORT_SIDE / min(width, height)
    if scale >= 1.0:
        return image
    # Integer box reduction first, then a short bilinear step: a few ms for a 12 MP photo.
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)


def _region(image: Image.Image, box: Sequence[float]) -> tuple[np.ndarray, tuple[int, int]]:
    """The RGB pixels of `box`, clipped to the picture, and the clipped box's top-left corner."""
    left, top = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    right, bottom = min(image.width, math.ceil(box[2])), min(image.height, math.ceil(box[3]))
    return np.asarray(_rgb(image.crop((left, top, right, bottom)))), (left, top)


# The landmarks are found in the face box grown by this many box-widths on each side: the
# predictor reads pixels a little outside the box, and the rest of the photo need not be copied.
_LANDMARK_MARGIN = 0.5


def detect_faces(image: Image.Image, *, small: Image.Image | None = None) -> list[DetectedFace]:
    """All faces the frontal detector finds, largest first, in `image`'s pixel coordinates.

    Faces are found on `small`, the `detection_copy` (made here when the caller has none),
    and their landmarks on the full-size pixels.
    """
    import dlib

    detector, shape_predictor, _ = _Models.get()
    if small is None:
        small = detection_copy(image)
    width, height = image.size
    scale = small.width / width
    pixels_small = np.asarray(_rgb(small))
    upsample = 1 if min(small.size) < DETECTION_SHORT_SIDE else 0
    with _DLIB_CALLS:
        rectangles, scores, _ = detector.run(pixels_small, upsample, 0.0)
    faces = []
    for rectangle, score in zip(rectangles, scores, strict=True):
        # dlib's rectangles include their right and bottom edge; the landmarks are found in
        # the detector's own rectangle, scaled: one pixel more shifts them (bench/identity.py).
        found_box = (
            round(rectangle.left() / scale), round(rectangle.top() / scale),
            round(rectangle.right() / scale), round(rectangle.bottom() / scale),
        )
        box = (max(0, found_box[0]), max(0, found_box[1]),
               min(width, found_box[2] + 1), min(height, found_box[3] + 1))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        margin = _LANDMARK_MARGIN * (box[2] - box[0])
        pixels, (left, top) = _region(image, (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin))
        local = dlib.rectangle(found_box[0] - left, found_box[1] - top, found_box[2] - left, found_box[3] - top)
        with _DLIB_CALLS:
            found = shape_predictor(pixels, local)
        points = dlib.points([dlib.point(point.x + left, point.y + top) for point in found.parts()])
        shape = dlib.full_object_detection(dlib.rectangle(*found_box), points)
        landmarks = np.array([(point.x, point.y) for point in points], dtype=np.float64)
        faces.append(DetectedFace(box=box, landmarks=landmarks, detection_score=float(score), shape=shape))
    faces.sort(key=lambda face: face.width * face.height, reverse=True)
    return faces


@dataclass(frozen=True)
class ChipView:
    """One chip a face is embedded from: dlib's aligned chip moved by `shift` (fractions of the
    chip's side, along its own axes: right, down), its side scaled by `scale`, mirrored or not."""

    shift: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    mirrored: bool = False


def with_mirrors(views: Sequence[ChipView]) -> tuple[ChipView, ...]:
    """Each view and its mirror image: a set a photo and its mirrored copy embed alike from,
    as long as every shift across has its opposite in the set too."""
    return tuple(v for view in views for v in (view, ChipView(view.shift, view.scale, mirrored=True)))


ONE_CHIP = (ChipView(),)
MIRROR_AVERAGED = with_mirrors(ONE_CHIP)
# The chips averaged into a face's embedding, one network pass each. On bench/identity.py's
# 1,500 LFW pairs at 0.6: one chip 13 wrong, with its mirror image 10 (99.33%). More chips did
# not help: the chip and its mirror image also scaled by 0.97 and 1.03 (6 passes) 9 wrong,
# also shifted by 2% of the side each way (10 passes) 13, all 30 of shifts by 2% and 4%,
# scales by 3% and 6% and turns by 3 degrees 11; every set's best threshold reached 99.40%
# at most, its ROC AUC 0.9997-0.9998. Averaging shrinks distances a little (the best
# threshold moves from 0.615 to 0.58-0.59), so more chips cost different-person pairs at
# 0.6. The pairs still wrong are faces the 5 landmarks align badly (turned by 60 degrees,
# looking down) and older grey-haired men alike to the network, which no chip changes.
EMBEDDING_VIEWS = MIRROR_AVERAGED


def _chip_region(image: Image.Image, face: DetectedFace, reach: float) -> tuple[np.ndarray, object]:
    """The pixels the face's chips are cut from, `reach` times the aligned chip's side around
    its centre, and the aligned chip's details in them: dlib cuts the same chip from this region
    as from the whole photo, without a copy of the whole photo."""
    import dlib

    details = dlib.get_face_chip_details(face.shape, _CHIP_SIZE, _CHIP_PADDING)
    rect = details.rect
    centre_x, centre_y = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
    # The chip's square is turned by the face's roll: take the square around it, and a few
    # pixels more for dlib's sampling at its edge.
    turn = abs(math.cos(details.angle)) + abs(math.sin(details.angle))
    half = max(rect.width(), rect.height()) / 2 * turn * reach + 4
    pixels, (left, top) = _region(image, (centre_x - half, centre_y - half, centre_x + half, centre_y + half))
    moved = dlib.drectangle(rect.left() - left, rect.top() - top, rect.right() - left, rect.bottom() - top)
    return pixels, dlib.chip_details(moved, dlib.chip_dims(_CHIP_SIZE, _CHIP_SIZE), details.angle)


def face_chips(image: Image.Image, face: DetectedFace, views: Sequence[ChipView] = EMBEDDING_VIEWS) -> list[np.ndarray]:
    """The face's 150 px RGB chips, one per view, cut from `image`'s full-size pixels as
    dlib.get_face_chip cuts its aligned chip (25% padding), each moved, scaled or mirrored."""
    import dlib

    reach = max(view.scale + 2 * (abs(view.shift[0]) + abs(view.shift[1])) for view in views)
    pixels, aligned = _chip_region(image, face, reach)
    rect, angle = aligned.rect, aligned.angle
    # drectangle's width() counts both edges; the chip spans right - left.
    side = rect.right() - rect.left()
    centre_x, centre_y = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
    cos, sin = math.cos(angle), math.sin(angle)
    chips = []
    for view in views:
        across, down = view.shift[0] * side, view.shift[1] * side
        x, y = centre_x + cos * across - sin * down, centre_y + sin * across + cos * down
        half = side * view.scale / 2
        details = dlib.chip_details(dlib.drectangle(x - half, y - half, x + half, y + half),
                                    dlib.chip_dims(_CHIP_SIZE, _CHIP_SIZE), angle)
        chip = dlib.extract_image_chip(pixels, details)
        chips.append(np.ascontiguousarray(chip[:, ::-1]) if view.mirrored else chip)
    return chips


def embed_chips(chips: Sequence[np.ndarray]) -> np.ndarray:
    """The (n, 128) identity embeddings of n aligned 150 x 150 RGB uint8 chips (dlib's
    `get_face_chip`, 25% padding), in one forward pass of the torch network: a face and its
    mirror image cost ~9 ms of CPU a chip together, one chip alone ~10 ms. Equal to dlib's
    `compute_face_descriptor` on the same chips within 1e-4 (tests/engine/test_identity_network.py)."""
    return identity_network.embed_chips(chips)


def embed_face(image: Image.Image, face: DetectedFace, views: Sequence[ChipView] = EMBEDDING_VIEWS) -> np.ndarray:
    """The 128-d identity embedding of one face found in `image`, read from the full-size pixels:
    the mean of its chips' embeddings (EMBEDDING_VIEWS, one network pass each).

    The network does not see a face and its mirror image as one (they embed 0.1-0.25 apart);
    the mean is both more accurate (bench/identity.py) and the same for a photo and its
    mirrored copy.
    """
    return embed_chips(face_chips(image, face, views)).mean(axis=0)


# Where the 5 landmarks go in a face chip, as fractions of its side: the box dlib's detector
# draws (brows to chin), eyes level, the nose base centred. Symmetric, so the chip of a
# mirrored photo is the mirror image of the photo's chip.
_CHIP_TEMPLATE = np.array([(0.80, 0.25), (0.63, 0.25), (0.20, 0.25), (0.37, 0.25), (0.50, 0.58)])
# The chip is resampled at this many times its final side, then reduced, so a large face
# is averaged down rather than point-sampled.
_CHIP_OVERSAMPLING = 4


def affine_face_chip(image: Image.Image, face: DetectedFace, *, size: int) -> Image.Image:
    """The face in grey, `size` px square, with its 5 landmarks moved to the same places by the
    affine map that fits them best. An affine map undoes a stretch, a crop, a shift, a scale
    and a turn of the photo, so every such copy of one shot gives nearly the same chip; two
    shots of one person differ in expression, light and pose, which it does not undo."""
    side = size * _CHIP_OVERSAMPLING
    template = np.hstack([_CHIP_TEMPLATE * side, np.ones((len(_CHIP_TEMPLATE), 1))])
    # Least squares: the 2 x 3 map from chip pixels to photo pixels.
    mapping, *_ = np.linalg.lstsq(template, face.landmarks, rcond=None)
    chip = image.convert("L") if image.mode not in ("L", "RGB") else image
    chip = chip.transform((side, side), Image.Transform.AFFINE, tuple(mapping.T.flatten()),
                          resample=Image.Resampling.BILINEAR)
    return chip.convert("L").resize((size, size), Image.Resampling.BOX)


def face_embeddings(image: Image.Image) -> list[tuple[Box, np.ndarray]]:
    """Every face in the image with its identity embedding, largest face first."""
    return [(face.box, embed_face(image, face)) for face in detect_faces(image)]


def face_embedding(image: Image.Image) -> np.ndarray | None:
    """The identity embedding of the largest face, or None when there is no face."""
    faces = detect_faces(image)
    return embed_face(image, faces[0]) if faces else None


def identity_distance(embedding: Sequence[float], other: Sequence[float]) -> float:
    difference = np.asarray(embedding, dtype=np.float64) - np.asarray(other, dtype=np.float64)
    return float(np.linalg.norm(difference))


def likeness_score(embedding: Sequence[float], centroid: Sequence[float]) -> float:
    """0-100: how much the face looks like the avatar's person (50 at dlib's 0.6 threshold, 90 at 0.3)."""
    if len(centroid) != len(embedding):
        raise ValueError(f"Cannot compare a {len(embedding)}-d embedding with a {len(centroid)}-d centroid.")
    distance = identity_distance(embedding, centroid)
    return round(100.0 / (1.0 + math.exp(LIKENESS_STEEPNESS * (distance - SAME_PERSON_DISTANCE))), 1)


def yaw_degrees(landmarks: np.ndarray) -> float:
    """How far the head is turned left or right, estimated from the 5 landmarks (0 = facing the camera).

    The nose base is projected on the line between the two eye centres; facing the camera
    it lands half way. A rough estimate (within ~10 degrees), good enough to turn away profiles.
    """
    eye_a = landmarks[0:2].mean(axis=0)
    eye_b = landmarks[2:4].mean(axis=0)
    nose = landmarks[4]
    across = eye_b - eye_a
    length_squared = float(across @ across)
    if length_squared == 0.0:
        return 90.0
    position = float((nose - eye_a) @ across) / length_squared  # 0.5 when frontal
    offset_in_half_distances = abs(position - 0.5) * 2.0
    return math.degrees(math.atan(offset_in_half_distances / _NOSE_DEPTH_IN_HALF_EYE_DISTANCES))
