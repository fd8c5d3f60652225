"""The torch port of dlib's face identity ResNet gives dlib's own embeddings, from a file
converted once and held to the licence list like the file it comes from."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avatars.engine import faces, identity_network, weights
from avatars.engine.dlib_resnet_file import DlibFileError, read_dlib_resnet
from avatars.engine.weights import UnlicensedWeightsError, licensed_weights

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
MATCH = 1e-4  # the largest difference allowed in any of an embedding's 128 numbers


def _chips(paths: list[Path]) -> list[np.ndarray]:
    """The 150 px chip of the largest face in each photo, cut by dlib as its reference usage does."""
    import dlib

    chips = []
    for path in paths:
        with Image.open(path) as image:
            image.thumbnail((1024, 1024))
            pixels = np.asarray(image.convert("RGB"))
        found = faces.detect_faces(Image.fromarray(pixels))
        if found:
            chips.append(dlib.get_face_chip(pixels, found[0].shape, 150, 0.25))
    return chips


@pytest.fixture(scope="module")
def real_chips() -> list[np.ndarray]:
    """Faces of the shared photos and of eight LFW people, with the mirror image of a few."""
    shared = sorted(path for path in (TESTDATA / "faces").rglob("*") if path.suffix.lower() in (".jpg", ".png")
                    and path.parent.name != "multi")
    people = sorted((TESTDATA / "lfw-verification" / "people").iterdir())[::6]
    lfw = [sorted(person.iterdir())[0] for person in people]
    chips = _chips(shared + lfw)
    if len(chips) < 20:
        pytest.fail(f"Only {len(chips)} faces found in {TESTDATA}: is the shared test data there?")
    return chips + [np.ascontiguousarray(chip[:, ::-1]) for chip in chips[:4]]


@pytest.fixture(scope="module")
def dlib_recognizer():
    import dlib

    return dlib.face_recognition_model_v1(licensed_weights("face_recognition_models", faces.IDENTITY_MODEL))


def test_torch_embeddings_match_dlibs_on_real_faces(real_chips, dlib_recognizer):
    expected = np.asarray(dlib_recognizer.compute_face_descriptor(real_chips), dtype=np.float64)

    in_one_batch = identity_network.embed_chips(real_chips)
    one_by_one = np.vstack([identity_network.embed_chips([chip]) for chip in real_chips[:6]])

    assert in_one_batch.shape == (len(real_chips), 128)
    assert np.abs(in_one_batch - expected).max() < MATCH
    assert np.abs(one_by_one - expected[:6]).max() < MATCH
    # Not a vacuous match: the faces are far apart, the embeddings far from zero.
    assert np.linalg.norm(expected[0] - expected[len(expected) // 2]) > 0.3


def test_faces_embed_chips_is_the_torch_network(real_chips, dlib_recognizer):
    pair = [real_chips[0], np.ascontiguousarray(real_chips[0][:, ::-1])]

    embeddings = faces.embed_chips(pair)

    expected = np.asarray(dlib_recognizer.compute_face_descriptor(pair), dtype=np.float64)
    assert np.abs(embeddings - expected).max() < MATCH


def test_the_conversion_is_cached_and_made_again_from_a_different_source(tmp_path, monkeypatch, real_chips):
    monkeypatch.setenv(weights.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setattr(identity_network, "_network", None)
    conversions = []
    convert = identity_network.converted_state_dict
    monkeypatch.setattr(identity_network, "converted_state_dict",
                        lambda source: conversions.append(source) or convert(source))

    first = identity_network.embed_chips(real_chips[:2])
    cached = tmp_path / identity_network.CONVERTED_MODEL
    assert cached.is_file() and len(conversions) == 1

    monkeypatch.setattr(identity_network, "_network", None)
    assert np.array_equal(identity_network.embed_chips(real_chips[:2]), first)
    assert len(conversions) == 1  # read from the cache

    cached.write_bytes(cached.read_bytes()[:1000])  # damaged: made again
    monkeypatch.setattr(identity_network, "_network", None)
    assert np.array_equal(identity_network.embed_chips(real_chips[:2]), first)
    assert len(conversions) == 2

    monkeypatch.setattr(identity_network, "_file_digest", lambda path: "another source file")
    monkeypatch.setattr(identity_network, "_network", None)
    identity_network.embed_chips(real_chips[:1])
    assert len(conversions) == 3


def test_a_derived_file_not_on_the_list_does_not_load(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(weights.CACHE_VARIABLE, str(cache))
    monkeypatch.setattr(identity_network, "_network", None)
    monkeypatch.setattr(identity_network, "CONVERTED_MODEL", "mystery_model.safetensors")

    with pytest.raises(UnlicensedWeightsError, match="not on models.md"):
        identity_network.load_network()
    assert not cache.exists()


def test_a_chip_of_another_size_is_refused(real_chips):
    with pytest.raises(ValueError, match="150 x 150"):
        identity_network.embed_chips([real_chips[0][:100, :100]])


def test_a_file_that_is_not_the_network_is_refused():
    source = Path(licensed_weights("face_recognition_models", faces.IDENTITY_MODEL)).read_bytes()
    landmarks = Path(licensed_weights("face_recognition_models", faces.LANDMARK_MODEL)).read_bytes()

    with pytest.raises(DlibFileError):
        read_dlib_resnet(landmarks)
    with pytest.raises(DlibFileError, match="ends early"):
        read_dlib_resnet(source[: len(source) // 2])
