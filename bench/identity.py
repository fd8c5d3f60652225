"""Identity verification: how well the face pipeline tells one person from another, on labelled real photos.

The verification set is a folder with `people/<name>/<photo>.jpg` and `pairs.csv`
(first, second, same_person), its source and licence in its README.md. By default the
LFW set beside the shared test photos: 300 photos of 50 people, 750 same-person and
750 different-person pairs. Every photo is embedded once, as the product does it
(`faces.detect_faces`, `faces.embed_face`); where a photo shows several faces, the one
nearest its centre is taken, as LFW labels the centred face. A photo without a face
fails every pair it is in.

Prints, in one run, dlib's reference usage (face_recognition's defaults: the HOG detector on
the RGB photo upsampled once, 5-point landmarks, compute_face_descriptor with one jitter) beside
the product's pipeline: accuracy at the product's threshold (faces.SAME_PERSON_DISTANCE), ROC
AUC, the best threshold and its accuracy, the photos where no face was found. Then each step
the product adds, measured alone against the reference: the mirror-averaged embedding, the
detection copy and the chip cut from the full-size pixels (on the photos enlarged 4x, as a
phone's photo is larger than LFW's 250 px), and upsampling for small faces. The product's
wrongly judged pairs are listed last.

    .venv/bin/python bench/identity.py [--set PATH] [--steps]
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


def product_pipeline(*, mirror_average: bool = True, enlarge: int = 1) -> Embedder:
    """The product's faces.detect_faces and faces.embed_face, on the photo enlarged `enlarge` times."""
    from avatars.engine import faces

    def embed(image: Image.Image) -> np.ndarray | None:
        if enlarge != 1:
            image = image.resize((image.width * enlarge, image.height * enlarge), Image.Resampling.BICUBIC)
        face = nearest_the_centre(faces.detect_faces(image), image)
        return faces.embed_face(image, face, mirror_average=mirror_average) if face else None

    return embed


def reference_usage(*, upsample: int = 1) -> Embedder:
    """dlib called directly on the whole photo, as face_recognition's api.py does by default."""
    import dlib

    from avatars.engine import faces
    from avatars.engine.weights import licensed_weights

    detector, predictor, _ = faces._Models.get()
    # The reference is dlib's own network; the product runs its torch port (identity_network).
    recognizer = dlib.face_recognition_model_v1(licensed_weights("face_recognition_models", faces.IDENTITY_MODEL))

    def embed(image: Image.Image) -> np.ndarray | None:
        pixels = np.asarray(image.convert("RGB"))
        rectangles = detector(pixels, upsample)
        if not rectangles:
            return None
        centre = dlib.point(image.width // 2, image.height // 2)
        rectangle = min(rectangles, key=lambda r: (r.center() - centre).x ** 2 + (r.center() - centre).y ** 2)
        return np.array(recognizer.compute_face_descriptor(pixels, predictor(pixels, rectangle), 1))

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
    parser.add_argument("--steps", action="store_true", help="also measure each step the product adds, alone")
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
    reference = measure(arguments.set, pairs, reference_usage())
    reference_accuracy = report("dlib's reference usage (face_recognition's defaults: RGB HOG upsampled once, "
                                "5-point, one jitter)", reference, threshold)
    result = measure(arguments.set, pairs, product_pipeline())
    accuracy = report("the product (5-point, detection copy, chip from full-size pixels, mirror-averaged)",
                      result, threshold)
    print(f"  against the reference in this run: {accuracy - reference_accuracy:+.2%} "
          f"({'not below' if accuracy >= reference_accuracy else 'BELOW'})")

    if arguments.steps:
        steps = {
            "step: the product without mirror-averaging (on 250 px photos, otherwise the reference's steps)": product_pipeline(mirror_average=False),
            "step: the product on the photos enlarged 4x (detection on a 560 px copy, no upsampling; "
            "chip from the 1000 px pixels)": product_pipeline(enlarge=4),
            "step: the reference without upsampling (what the product's upsampling of small photos buys)":
                reference_usage(upsample=0),
        }
        for label, embed in steps.items():
            report(label, measure(arguments.set, pairs, embed), threshold)

    wrong = [(pair, distance) for pair, distance in zip(pairs, result["distances"], strict=True)
             if (distance < threshold) != pair[2]]
    print("the product's wrong pairs:")
    for (first, second, is_same), distance in sorted(wrong, key=lambda item: item[1]):
        print(f"    {'same' if is_same else 'different'} judged wrongly at {distance:.3f}: {first}  {second}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
