"""Identity verification: how well the face pipeline tells one person from another, on labelled real photos.

The verification set is a folder with `people/<name>/<photo>.jpg` and `pairs.csv`
(first, second, same_person), its source and licence in its README.md. By default the
LFW set beside the shared test photos: 300 photos of 50 people, 750 same-person and
750 different-person pairs. Every photo is embedded once per pipeline, as the product does it
(`faces.detect_faces`, `faces.face_chips`, `faces.embed_chips`); where a photo shows several
faces, the one nearest its centre is taken, as LFW labels the centred face. A photo without a
face fails every pair it is in.

Prints, in one run, dlib's reference usage (face_recognition's defaults: the HOG detector on
the RGB photo upsampled once, 5-point landmarks, compute_face_descriptor with one jitter) beside
the product's pipeline: accuracy at the product's threshold (faces.SAME_PERSON_DISTANCE), ROC
AUC, the best threshold and its accuracy, the photos where no face was found. Then each step
the product adds, measured alone: upsampling for small faces (the reference without it); the
chips averaged into the embedding (one chip, its mirror image, small shifts and scales of it:
each chip one pass of the network, all embedded once and averaged in subsets); on the photos
enlarged 4x, as a phone's photo is larger than LFW's 250 px, the detection copy's size and the
chip cut from the full-size pixels rather than from the detection copy; the threshold. A table
sums them up; the product's wrongly judged pairs are listed last.

    .venv/bin/python bench/identity.py [--set PATH] [--more-chips] [--no-enlarged]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_SET = ROOT.parent / "shared" / "testdata" / "lfw-verification"
GOAL_ACCURACY = 0.995
DLIB_PUBLISHED_LFW = 0.9938
ENLARGED = 4

Embedder = Callable[[Image.Image], "np.ndarray | None"]


def read_pairs(folder: Path) -> list[tuple[str, str, bool]]:
    with open(folder / "pairs.csv", newline="") as handle:
        return [(row["first"], row["second"], row["same_person"] == "1") for row in csv.DictReader(handle)]


def nearest_the_centre(faces: list, image: Image.Image):
    def off_centre(face) -> float:
        return ((face.box[0] + face.box[2]) / 2 - image.width / 2) ** 2 + \
               ((face.box[1] + face.box[3]) / 2 - image.height / 2) ** 2

    return min(faces, key=off_centre) if faces else None


def enlarged(image: Image.Image, times: int) -> Image.Image:
    return image if times == 1 else image.resize((image.width * times, image.height * times), Image.Resampling.BICUBIC)


def product_pipeline(views: Sequence, *, enlarge: int = 1, chip_from_copy: bool = False,
                     detection_short_side: int | None = None) -> Callable[[Image.Image], "np.ndarray | None"]:
    """The product's detection and chips, each view's embedding a row (None without a face),
    on the photo enlarged `enlarge` times. `chip_from_copy` cuts the chips from the detection
    copy instead of the full-size pixels; `detection_short_side` overrides the copy's size."""
    from avatars.engine import faces

    def embed(image: Image.Image) -> np.ndarray | None:
        image = enlarged(image, enlarge)
        short_side = detection_short_side or faces.DETECTION_SHORT_SIDE
        scale = short_side / min(image.size)
        small = image if scale >= 1.0 else image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR, reducing_gap=1.0)
        source = small if chip_from_copy else image
        face = nearest_the_centre(faces.detect_faces(source, small=small), source)
        return faces.embed_chips(faces.face_chips(source, face, views)) if face else None

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
        return np.array([recognizer.compute_face_descriptor(pixels, predictor(pixels, rectangle), 1)])

    return embed


def embed_all(folder: Path, photos: Sequence[str], embed: Embedder) -> tuple[dict, float]:
    """Each photo's rows of embeddings (None without a face), and the seconds it took."""
    started = time.perf_counter()
    rows = {}
    for name in photos:
        with Image.open(folder / name) as image:
            rows[name] = embed(image.convert("RGB"))
    return rows, time.perf_counter() - started


def score(pairs: list[tuple[str, str, bool]], rows: dict, columns: Sequence[int] | None = None) -> dict:
    """The pairs' distances between the photos' embeddings, each the mean of `columns`' rows."""
    embeddings = {name: None if found is None else (found if columns is None else found[list(columns)]).mean(axis=0)
                  for name, found in rows.items()}
    distances = np.array([
        np.linalg.norm(embeddings[first] - embeddings[second])
        if embeddings[first] is not None and embeddings[second] is not None else np.inf
        for first, second, _ in pairs
    ])
    return {"distances": distances, "same": np.array([is_same for _, _, is_same in pairs]),
            "no_face": sorted(name for name, found in embeddings.items() if found is None), "photos": len(rows)}


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


def wrong_at(result: dict, threshold: float) -> int:
    return int(np.sum((result["distances"] < threshold) != result["same"]))


def report(label: str, result: dict, threshold: float, *, passes: int, seconds: float | None = None) -> dict:
    distances, same = result["distances"], result["same"]
    wrong = wrong_at(result, threshold)
    accuracy = 1.0 - wrong / len(same)
    best, best_accuracy = best_threshold(distances, same)
    summary = {"label": label, "passes": passes, "accuracy": accuracy, "wrong": wrong,
               "auc": roc_auc(distances, same), "best": best, "best_accuracy": best_accuracy,
               "no_face": len(result["no_face"])}
    print(f"{label}")
    print(f"  accuracy at {threshold}:   {accuracy:.2%}  ({wrong} of {len(same)} pairs wrong)  "
          f"goal >= {GOAL_ACCURACY:.1%}: {'met' if accuracy >= GOAL_ACCURACY else 'missed'}")
    print(f"  ROC AUC:              {summary['auc']:.4f}")
    print(f"  best threshold:       {best:.3f} ({best_accuracy:.2%})")
    print(f"  network passes:       {passes} a face")
    print(f"  no face found:        {len(result['no_face'])} of {result['photos']} photos"
          + (f": {', '.join(result['no_face'])}" if result["no_face"] else ""))
    if seconds is not None:
        print(f"  time:                 {seconds:.1f} s, {seconds / result['photos'] * 1000:.0f} ms/photo")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="the verification set's folder")
    parser.add_argument("--more-chips", action="store_true",
                        help="also the chip shifted by 2%% each way (10 passes a face: 2.5x the run's time)")
    parser.add_argument("--no-enlarged", action="store_true",
                        help="skip the steps measured on the photos enlarged 4x (a third of the run's time)")
    arguments = parser.parse_args()
    if not (arguments.set / "pairs.csv").is_file():
        print(f"No verification set at {arguments.set} (people/ and pairs.csv): see its README for where it comes from.")
        return 2

    from avatars.engine import faces

    pairs = read_pairs(arguments.set)
    photos = sorted({name for first, second, _ in pairs for name in (first, second)})
    people = {Path(name).parent.name for name in photos}
    print(f"{arguments.set.name}: {len(pairs)} pairs ({sum(p[2] for p in pairs)} same person) "
          f"of {len(people)} people; dlib publishes {DLIB_PUBLISHED_LFW:.2%} on LFW's own 6,000 pairs")
    faces.load_models()
    threshold = faces.SAME_PERSON_DISTANCE
    table = []

    rows, seconds = embed_all(arguments.set, photos, reference_usage())
    table.append(reference := report("dlib's reference usage (face_recognition's defaults: RGB HOG upsampled once, "
                                     "5-point, one jitter)", score(pairs, rows), threshold, passes=1, seconds=seconds))

    # Every chip of every view set below is embedded once; each set is the mean of its rows.
    view_sets = {
        "one chip (the reference's, through the product's detection: the photo is its own detection copy)":
            faces.ONE_CHIP,
        "mirror-averaged (the chip and its mirror image)": faces.MIRROR_AVERAGED,
        "the chip also scaled by 0.97 and 1.03, each mirror-averaged":
            faces.with_mirrors([faces.ChipView(), faces.ChipView(scale=0.97), faces.ChipView(scale=1.03)]),
    }
    if arguments.more_chips:
        shifts = [faces.ChipView(shift=(x, y)) for x, y in ((0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02))]
        view_sets["the chip also shifted by 2% of its side each way, each mirror-averaged"] = \
            faces.with_mirrors([faces.ChipView(), *shifts])
    if tuple(faces.EMBEDDING_VIEWS) not in {tuple(views) for views in view_sets.values()}:
        view_sets["faces.EMBEDDING_VIEWS"] = faces.EMBEDDING_VIEWS
    union = list(dict.fromkeys(view for views in view_sets.values() for view in views))
    rows, seconds = embed_all(arguments.set, photos, product_pipeline(union))
    product = None
    for label, views in view_sets.items():
        columns = [union.index(view) for view in views]
        is_product = tuple(views) == tuple(faces.EMBEDDING_VIEWS)
        result = score(pairs, rows, columns)
        table.append(report(("THE PRODUCT: " if is_product else "step: ") + label, result, threshold,
                            passes=len(views)))
        if is_product:
            product, product_result = table[-1], result
    print(f"  (all {len(union)} chips of the sets above: {seconds:.1f} s, {seconds / len(photos) * 1000:.0f} ms/photo)")

    rows, seconds = embed_all(arguments.set, photos, reference_usage(upsample=0))
    table.append(report("step: the reference without upsampling (what upsampling small photos buys)",
                        score(pairs, rows), threshold, passes=1, seconds=seconds))
    if not arguments.no_enlarged:
        enlarged_steps = {
            f"step: one chip, photos enlarged {ENLARGED}x: detection on the {faces.DETECTION_SHORT_SIDE} px copy "
            f"(no upsampling), chip from the {250 * ENLARGED} px pixels": product_pipeline(faces.ONE_CHIP, enlarge=ENLARGED),
            f"step: the same, chip cut from the {faces.DETECTION_SHORT_SIDE} px detection copy "
            "(what the full-size pixels buy)": product_pipeline(faces.ONE_CHIP, enlarge=ENLARGED, chip_from_copy=True),
            f"step: the same as the first, detection on the whole {250 * ENLARGED} px photo (no copy)":
                product_pipeline(faces.ONE_CHIP, enlarge=ENLARGED, detection_short_side=250 * ENLARGED),
        }
        for label, embed in enlarged_steps.items():
            rows, seconds = embed_all(arguments.set, photos, embed)
            table.append(report(label, score(pairs, rows), threshold, passes=1, seconds=seconds))

    if product is None:
        print("faces.EMBEDDING_VIEWS is none of the measured view sets")
        return 1
    print(f"the product against the reference in this run: {product['accuracy'] - reference['accuracy']:+.2%} "
          f"({'not below' if product['accuracy'] >= reference['accuracy'] else 'BELOW'})")
    print(f"the product's threshold (wrong pairs of {len(pairs)} at each):  " + "  ".join(
        f"{candidate:.2f}: {wrong_at(product_result, candidate)}" for candidate in np.arange(0.54, 0.665, 0.01)))

    print(f"\n| pipeline | passes a face | accuracy at {threshold} | wrong | ROC AUC | best threshold | no face |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in table:
        print(f"| {row['label'].split(' (')[0]} | {row['passes']} | {row['accuracy']:.2%} | {row['wrong']} | {row['auc']:.4f} "
              f"| {row['best']:.3f} ({row['best_accuracy']:.2%}) | {row['no_face']} |")

    wrong = [(pair, distance) for pair, distance in zip(pairs, product_result["distances"], strict=True)
             if (distance < threshold) != pair[2]]
    print("\nthe product's wrong pairs:")
    for (first, second, is_same), distance in sorted(wrong, key=lambda item: item[1]):
        print(f"    {'same' if is_same else 'different'} judged wrongly at {distance:.3f}: {first}  {second}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
