"""Training photos turned so the eyes are level before the face crop, on real photos."""

import math

import numpy as np
import pytest
from PIL import Image

from avatars.engine.face_crops import aligned_face_crop, crop_face
from avatars.engine.faces import detect_faces

CROP = {"size": 256, "margin": 0.6}


def photo(faces_dir, name):
    with Image.open(faces_dir / name) as image:
        return image.convert("RGB")


def eye_roll_degrees(image) -> float:
    """The slope of the line through the eye centres of the largest face found again."""
    faces = detect_faces(image)
    assert faces, "no face found in the crop"
    centres = sorted(
        (faces[0].landmarks[0:2].mean(axis=0), faces[0].landmarks[2:4].mean(axis=0)), key=lambda c: c[0]
    )
    (left_x, left_y), (right_x, right_y) = centres
    return math.degrees(math.atan2(right_y - left_y, right_x - left_x))


@pytest.mark.parametrize("turn", [15, -15])
def test_a_photo_turned_by_15_degrees_is_cropped_with_level_eyes(faces_dir, turn):
    upright = photo(faces_dir, "obama/obama-1.jpg")
    face = detect_faces(upright)[0]
    centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
    turned = upright.rotate(turn, resample=Image.Resampling.BICUBIC, center=centre)
    turned_box = detect_faces(turned)[0].box

    plain = crop_face(turned, turned_box, **CROP)
    aligned = aligned_face_crop(turned, box=turned_box, **CROP)

    assert aligned.size == (256, 256)
    assert abs(eye_roll_degrees(plain)) > 12
    assert abs(eye_roll_degrees(aligned)) < 1.5


def test_a_tilted_head_is_levelled_with_the_landmarks_given(faces_dir):
    """biden-1 holds his head ~13 degrees off level; landmarks given, nothing is detected again."""
    image = photo(faces_dir, "biden/biden-1.jpg")
    face = detect_faces(image)[0]

    aligned = aligned_face_crop(image, landmarks=face.landmarks, box=face.box, **CROP)

    assert abs(eye_roll_degrees(crop_face(image, face.box, **CROP))) > 10
    assert abs(eye_roll_degrees(aligned)) < 1.5


def test_an_upright_face_gets_the_plain_crop_and_a_photo_without_a_face_its_centre(faces_dir):
    image = photo(faces_dir, "obama/obama-1.jpg")
    face = detect_faces(image)[0]
    no_face = image.crop((0, 600, image.width, image.height))

    upright = aligned_face_crop(image, box=face.box, **CROP)
    faceless = aligned_face_crop(no_face, box=None, **CROP)

    np.testing.assert_array_equal(np.asarray(upright), np.asarray(crop_face(image, face.box, **CROP)))
    np.testing.assert_array_equal(np.asarray(faceless), np.asarray(crop_face(no_face, None, **CROP)))


# The turned square's upright bounding square is (cos 20 + sin 20) = 1.28 times its side:
# with a margin of 0.1 the 120 px face's 144 px square fits in the 200 px high picture;
# with 1.0 its 360 px would not, and it shrinks to 200 / 1.28 px.
@pytest.mark.parametrize(
    "margin, expected_side",
    [(0.1, 144.0), (1.0, 200 / (math.cos(math.radians(20)) + math.sin(math.radians(20))))],
)
def test_the_turned_square_is_the_face_square_shrunk_to_fit_inside_the_picture(margin, expected_side):
    """Eyes sloping down 20 degrees: the square is turned by 20 degrees, and shrunk only if its
    turned corners would leave the picture. The picture's red and green channels encode each
    pixel's x and y, so the crop shows where it was taken from."""
    width, height = 300, 200
    y, x = np.mgrid[0:height, 0:width]
    coordinates = np.stack([x * 255 / (width - 1), y * 255 / (height - 1), np.zeros_like(x)], axis=-1)
    picture = Image.fromarray(coordinates.round().astype(np.uint8))
    tilt = math.radians(20)
    left_eye = np.array([120.0, 90.0])
    right_eye = left_eye + 60 * np.array([math.cos(tilt), math.sin(tilt)])
    landmarks = np.array(
        [left_eye - (8, 0), left_eye + (8, 0), right_eye - (8, 0), right_eye + (8, 0), (150, 130)]
    )

    crop = np.asarray(
        aligned_face_crop(picture, landmarks=landmarks, box=(90, 50, 210, 170), size=64, margin=margin)
    )

    def source(column, row):
        red, green, _ = crop[row, column].astype(float)
        return np.array([red * (width - 1) / 255, green * (height - 1) / 255])

    top_left, top_right, bottom_left = source(8, 8), source(56, 8), source(8, 56)
    top, side = top_right - top_left, bottom_left - top_left
    assert math.degrees(math.atan2(top[1], top[0])) == pytest.approx(20, abs=1.5)
    assert np.linalg.norm(top) == pytest.approx(expected_side * 48 / 64, rel=0.03)
    assert np.linalg.norm(side) == pytest.approx(expected_side * 48 / 64, rel=0.03)
    assert abs(float(top @ side)) < 0.05 * np.linalg.norm(top) ** 2
