"""Face embeddings, likeness, crops and the nudity verdict, on real photos."""

import numpy as np
import pytest
from PIL import Image

from avatars.engine import safety
from avatars.engine.face_crops import crop_face
from avatars.engine.faces import face_embedding, face_embeddings, likeness_score, yaw_degrees
from avatars.engine.photo_sets import identity_centroid
from avatars.engine.safety import nudity_verdict


def photo(faces_dir, name):
    with Image.open(faces_dir / name) as image:
        return image.convert("RGB")


def test_face_embeddings_finds_every_face_largest_first(faces_dir):
    found = face_embeddings(photo(faces_dir, "multi/two_people.jpg"))

    assert len(found) == 2
    (first_box, first), (second_box, second) = found
    assert first.shape == second.shape == (128,)
    assert (first_box[2] - first_box[0]) >= (second_box[2] - second_box[0])
    assert np.linalg.norm(first - second) > 0.6


def test_face_embedding_is_none_without_a_face(faces_dir):
    image = photo(faces_dir, "obama/obama-1.jpg")

    assert face_embedding(image.crop((0, 600, image.width, image.height))) is None
    assert face_embedding(image).shape == (128,)


def test_likeness_maps_dlib_distance_to_a_score_with_50_at_the_same_person_threshold():
    centroid = [0.0] * 128

    def at(distance):
        return likeness_score([distance] + [0.0] * 127, centroid)

    assert at(0.6) == 50.0
    assert at(0.3) == 90.0
    assert at(0.0) > 98
    assert at(0.9) == 10.0
    assert at(0.1) > at(0.3) > at(0.45) > at(0.6) > at(0.75)
    with pytest.raises(ValueError):
        likeness_score([0.0] * 128, [])


def test_likeness_of_real_photos_tells_the_person_from_others(faces_dir):
    centroid = identity_centroid([face_embedding(photo(faces_dir, f"obama/obama-{n}.jpg")) for n in (1, 3)])

    same = likeness_score(face_embedding(photo(faces_dir, "obama/obama-2.jpg")), centroid)
    other = likeness_score(face_embedding(photo(faces_dir, "biden/biden-2.jpg")), centroid)

    assert same > 80
    assert other < 20


def test_yaw_is_zero_facing_the_camera_and_grows_as_the_nose_leaves_the_middle():
    def landmarks(nose_x):
        return np.array([[130, 100], [110, 100], [50, 100], [70, 100], [nose_x, 140]], dtype=float)

    assert yaw_degrees(landmarks(90)) == pytest.approx(0.0)
    assert 10 < yaw_degrees(landmarks(100)) < yaw_degrees(landmarks(115)) < yaw_degrees(landmarks(130))
    assert yaw_degrees(landmarks(100)) == pytest.approx(yaw_degrees(landmarks(80)))


def test_crop_face_is_a_square_around_the_face_kept_inside_the_picture():
    image = Image.new("RGB", (1000, 600), (0, 0, 0))
    image.paste((255, 255, 255), (400, 200, 500, 300))
    image.paste((255, 0, 0), (0, 0, 100, 100))

    centred = crop_face(image, [400, 200, 500, 300], size=256, margin=0.5)
    at_the_edge = crop_face(image, [0, 0, 100, 100], size=128, margin=1.0)
    whole = crop_face(image, None, size=64, margin=0.5)

    assert centred.size == (256, 256)
    # The face is half the crop's width (one face-width of margin in all), in the middle.
    pixels = np.asarray(centred.convert("L"))
    assert pixels[128, 128] == 255 and pixels[128, 20] == 0 and pixels[128, 235] == 0
    # 300 px wanted around a face in the corner: shifted, not padded, so the face sits top left.
    assert at_the_edge.size == (128, 128)
    corner = np.asarray(at_the_edge)
    assert tuple(corner[10, 10]) == (255, 0, 0) and tuple(corner[100, 100]) == (0, 0, 0)
    assert whole.size == (64, 64)


def test_a_clothed_portrait_is_safe(faces_dir):
    verdict = nudity_verdict(photo(faces_dir, "obama/obama-1.jpg"))

    assert verdict.is_safe
    assert verdict.score < safety.DEFAULT_THRESHOLD
    assert verdict.labels == []


@pytest.mark.parametrize("detections, is_safe", [
    ([{"class": "MALE_GENITALIA_EXPOSED", "score": 0.7, "box": [0, 0, 5, 5]}], False),
    ([{"class": "BUTTOCKS_EXPOSED", "score": 0.3, "box": [0, 0, 5, 5]}], True),
    ([{"class": "FEMALE_BREAST_COVERED", "score": 0.95, "box": [0, 0, 5, 5]}], True),
    ([{"class": "MALE_BREAST_EXPOSED", "score": 0.95, "box": [0, 0, 5, 5]}], True),
])
def test_the_nudity_threshold_counts_only_exposed_intimate_parts(monkeypatch, detections, is_safe):
    # Threshold logic only: the detector's output is replaced, no explicit picture is used.
    monkeypatch.setattr(safety._Detector.get(), "detect", lambda image: detections)

    verdict = nudity_verdict(Image.new("RGB", (64, 64)))

    assert verdict.is_safe is is_safe
    assert verdict.labels == ([] if is_safe else ["MALE_GENITALIA_EXPOSED"])
    # jobs.py unpacks it as a tuple, styles/services/requests.py reads its fields.
    is_safe_again, score, labels = verdict
    assert is_safe_again is is_safe and labels == verdict.labels and score == verdict.score


def test_photos_checked_from_several_threads_at_once_do_not_crash_the_process(faces_dir):
    """The web server checks uploads in parallel threads; dlib aborted the process when two met."""
    import subprocess
    import sys
    from pathlib import Path

    script = f"""
import glob, threading
from avatars.engine.intake import check_photo
paths = sorted(glob.glob({str(faces_dir)!r} + "/*/*.jpg"))
verdicts = []
def check(path):
    for _ in range(2):
        verdicts.append(check_photo(open(path, "rb").read()).reason_code)
threads = [threading.Thread(target=check, args=(path,)) for path in paths]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(len(verdicts))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) == 2 * len(list(faces_dir.glob("*/*.jpg")))


def test_a_small_picture_is_enlarged_to_find_its_face(faces_dir):
    # A 250 px photo, LFW's size: its ~90 px face is at the edge of HOG's 80 px window.
    image = photo(faces_dir, "obama/obama-1.jpg")
    small = image.resize((250, round(250 * image.height / image.width)), Image.Resampling.LANCZOS)

    found = face_embeddings(small)

    assert len(found) == 1
    left, top, right, bottom = found[0][0]
    assert 0 <= left < right <= small.width and 0 <= top < bottom <= small.height
    assert np.linalg.norm(found[0][1] - face_embedding(image)) < 0.3


def test_the_aligned_chip_is_dlibs_own_and_each_chip_is_one_row_of_embeddings(faces_dir):
    import dlib

    from avatars.engine.faces import ChipView, detect_faces, embed_chips, embed_face, face_chips, with_mirrors

    image = photo(faces_dir, "biden/biden-2.jpg")
    [face] = detect_faces(image)
    views = with_mirrors([ChipView(), ChipView(shift=(0.04, -0.04), scale=0.94)])

    chips = face_chips(image, face, views)
    rows = embed_chips(chips)

    # Cut from a region of the photo, the plain chip is the one dlib cuts from the whole photo.
    whole = dlib.get_face_chip(np.asarray(image), face.shape, 150, 0.25)
    assert np.array_equal(chips[0], whole)
    assert np.array_equal(chips[1], whole[:, ::-1])
    assert not np.array_equal(chips[2], whole)
    assert rows.shape == (4, 128)
    assert np.allclose(embed_face(image, face, views), rows.mean(axis=0))


def test_a_photo_and_its_mirrored_copy_embed_alike_once_averaged_with_the_mirror(faces_dir):
    from avatars.engine.faces import ONE_CHIP, detect_faces, embed_face

    image = photo(faces_dir, "biden/biden-2.jpg")
    mirrored = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    [face] = detect_faces(image)
    [mirrored_face] = detect_faces(mirrored)

    of_the_mirror = embed_face(mirrored, mirrored_face)

    # One chip alone: the network sees the face and its mirror image apart.
    apart = np.linalg.norm(embed_face(image, face, ONE_CHIP)
                           - embed_face(mirrored, mirrored_face, ONE_CHIP))
    averaged = np.linalg.norm(embed_face(image, face) - of_the_mirror)
    assert apart > 0.1
    assert averaged < 0.1 and averaged < apart / 2
