"""Identity verification: how well the face pipeline tells one person from another, on labelled real photos.

The verification set is a folder with `people/<name>/<photo>.jpg` and `pairs.csv`
(first, second, same_person), its source and licence in its README.md. By default the
LFW set beside the shared test photos: 300 photos of 50 people, 750 same-person and
750 different-person pairs. Every photo is embedded once, as the product does it
(`faces.detect_faces`, `faces.embed_face`); where a photo shows several faces, the one
nearest its centre is taken, as LFW labels the centred face. A photo without a face
fails every pair it is in.

Prints accuracy at the project's threshold (faces.SAME_PERSON_DISTANCE), ROC AUC, the
best threshold and its accuracy, the photos where no face was found and the pairs
judged wrongly, next to the goal. With --compare, the same figures for dlib's reference
usage in face_recognition (detection upsampled once, 5-point landmarks, num_jitters=1)
and for the variants measured while choosing the pipeline.

    .venv/bin/python bench/identity.py [--set PATH] [--compare]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_SET = ROOT.parent / "shared" / "testdata" / "lfw-verification"
GOAL_ACCURACY = 0.995
DLIB_PUBLISHED_LFW = 0.9938

Embedder = Callable[[Image.Image], "np.ndarray | None"]


def read_pairs(folder: Path) -> list[tuple[str, str, bool]]:
    with open(folder / "pairs.csv", newline="") as handle:
        return [(row["first"], row["second"], row["same_person"] == "1") for row in csv.DictReader(handle)]


def nearest_the_centre(faces: list, image: Image.Image):
    def off_centre(face) -> float:
        return ((face.box[0] + face.box[2]) / 2 - image.width / 2) ** 2 + \
               ((face.box[1] + face.box[3]) / 2 - image.height / 2) ** 2

    return min(faces, key=off_centre) if faces else None


def project_pipeline(image: Image.Image) -> np.ndarray | None:
    from avatars.engine import faces

    face = nearest_the_centre(faces.detect_faces(image), image)
    return faces.embed_face(image, face) if face else None


def dlib_variant(*, upsample: int, landmarks: str, jitters: int, mirror_average: bool = False) -> Embedder:
    """dlib called directly on the whole photo, as face_recognition's api.py does."""
    import dlib

    from avatars.engine import faces

    detector, _, recognizer = faces._Models.get()
    predictor = dlib.shape_predictor(faces._model_file(landmarks))

    def embed(image: Image.Image) -> np.ndarray | None:
        pixels = np.asarray(image.convert("RGB"))
        rectangles = detector(pixels, upsample)
        if not rectangles:
            return None
        centre = dlib.point(image.width // 2, image.height // 2)
        rectangle = min(rectangles, key=lambda r: (r.center() - centre).x ** 2 + (r.center() - centre).y ** 2)
        shape = predictor(pixels, rectangle)
        if not mirror_average:
            return np.array(recognizer.compute_face_descriptor(pixels, shape, jitters))
        chip = dlib.get_face_chip(pixels, shape, 150, 0.25)
        both = recognizer.compute_face_descriptor([chip, np.ascontiguousarray(chip[:, ::-1])], jitters)
        return np.mean(np.asarray(both), axis=0)

    return embed


def measure(folder: Path, pairs: list[tuple[str, str, bool]], embed: Embedder) -> dict:
    photos = sorted({name for first, second, _ in pairs for name in (first, second)})
    started = time.perf_counter()
    embeddings = {}
    for name in photos:
        with Image.open(folder / name) as image:
            embeddings[name] = embed(image.convert("RGB"))
    seconds = time.perf_counter() - started
    distances = np.array([
        np.linalg.norm(embeddings[first] - embeddings[second])
        if embeddings[first] is not None and embeddings[second] is not None else np.inf
        for first, second, _ in pairs
    ])
    same = np.array([is_same for _, _, is_same in pairs])
    return {
        "distances": distances, "same": same, "seconds": seconds, "photos": len(photos),
        "no_face": [name for name in photos if embeddings[name] is None],
    }


def roc_auc(distances: np.ndarray, same: np.ndarray) -> float:
    """The chance that a same-person pair is closer than a different-person pair (ties count half)."""
    closer = distances[same][:, None] < distances[~same][None, :]
    tied = distances[same][:, None] == distances[~same][None, :]
    return float(closer.mean() + 0.5 * tied.mean())


def best_threshold(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    finite = np.unique(distances[np.isfinite(distances)])
    accuracies = [float(np.mean((distances <= threshold) == same)) for threshold in finite]
    index = int(np.argmax(accuracies))
    return float(finite[index]), accuracies[index]


def report(label: str, result: dict, threshold: float) -> float:
    distances, same = result["distances"], result["same"]
    accuracy = float(np.mean((distances < threshold) == same))
    best, best_accuracy = best_threshold(distances, same)
    print(f"{label}")
    print(f"  accuracy at {threshold}:   {accuracy:.2%}  ({int(np.sum((distances < threshold) != same))} of "
          f"{len(same)} pairs wrong)  goal >= {GOAL_ACCURACY:.1%}: {'met' if accuracy >= GOAL_ACCURACY else 'missed'}")
    print(f"  ROC AUC:              {roc_auc(distances, same):.4f}")
    print(f"  best threshold:       {best:.3f} ({best_accuracy:.2%})")
    print(f"  no face found:        {len(result['no_face'])} of {result['photos']} photos"
          + (f": {', '.join(result['no_face'])}" if result["no_face"] else ""))
    print(f"  time:                 {result['seconds']:.1f} s, {result['seconds'] / result['photos'] * 1000:.0f} ms/photo")
    return accuracy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="the verification set's folder")
    parser.add_argument("--compare", action="store_true", help="also measure dlib's reference usage and variants")
    arguments = parser.parse_args()
    if not (arguments.set / "pairs.csv").is_file():
        print(f"No verification set at {arguments.set} (people/ and pairs.csv): see its README for where it comes from.")
        return 2

    from avatars.engine import faces

    pairs = read_pairs(arguments.set)
    people = {Path(name).parent.name for pair in pairs for name in pair[:2]}
    print(f"{arguments.set.name}: {len(pairs)} pairs ({sum(p[2] for p in pairs)} same person) "
          f"of {len(people)} people; dlib publishes {DLIB_PUBLISHED_LFW:.2%} on LFW's own 6,000 pairs")
    faces.load_models()
    threshold = faces.SAME_PERSON_DISTANCE
    result = measure(arguments.set, pairs, project_pipeline)
    report("the project's pipeline (68-point landmarks, small photos upsampled once)", result, threshold)
    wrong = [(pair, distance) for pair, distance in zip(pairs, result["distances"], strict=True)
             if (distance < threshold) != pair[2]]
    for (first, second, is_same), distance in sorted(wrong, key=lambda item: item[1]):
        print(f"    {'same' if is_same else 'different'} judged wrongly at {distance:.3f}: {first}  {second}")

    if arguments.compare:
        variants = {
            "face_recognition's defaults (upsample 1, 5-point, num_jitters=1)":
                dlib_variant(upsample=1, landmarks="shape_predictor_5_face_landmarks.dat", jitters=1),
            "the former pipeline (no upsampling, 5-point)":
                dlib_variant(upsample=0, landmarks="shape_predictor_5_face_landmarks.dat", jitters=0),
            "68-point, upsample 1, mirror-averaged (twice the network's time)":
                dlib_variant(upsample=1, landmarks="shape_predictor_68_face_landmarks.dat", jitters=0,
                             mirror_average=True),
            "68-point, upsample 1, num_jitters=10 (ten times the network's time)":
                dlib_variant(upsample=1, landmarks="shape_predictor_68_face_landmarks.dat", jitters=10),
        }
        for label, embed in variants.items():
            report(label, measure(arguments.set, pairs, embed), threshold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
