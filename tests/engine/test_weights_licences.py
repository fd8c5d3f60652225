"""Only weights a paid product may use ever load: avatars/engine/models.md is the list."""

from pathlib import Path

import pytest

from avatars.engine import faces, identity_network, safety, weights
from avatars.engine.weights import UnlicensedWeightsError, commercial_use_by_file, licensed_weights

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def opened(monkeypatch, tmp_path):
    """Every weights file handed to dlib's, onnxruntime's and safetensors' loaders (and to the
    reader of dlib's ResNet file) while the engine's face and safety models load afresh, the
    converted identity network made anew in an empty cache: the loaders themselves are
    intercepted, so a model opened without going through weights.py is seen too."""
    import dlib
    import onnxruntime
    import safetensors.torch

    paths = []

    def recording(loader):
        def load(path, *args, **kwargs):
            paths.append(Path(path).name)
            return loader(path, *args, **kwargs)
        return load

    monkeypatch.setattr(dlib, "shape_predictor", recording(dlib.shape_predictor))
    monkeypatch.setattr(dlib, "face_recognition_model_v1", recording(dlib.face_recognition_model_v1))
    monkeypatch.setattr(onnxruntime, "InferenceSession", recording(onnxruntime.InferenceSession))
    monkeypatch.setattr(safetensors.torch, "load_file", recording(safetensors.torch.load_file))
    monkeypatch.setattr(identity_network, "converted_state_dict", recording(identity_network.converted_state_dict))
    monkeypatch.setenv(weights.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setattr(identity_network, "_network", None)
    monkeypatch.setattr(faces._Models, "_loaded", None)
    monkeypatch.setattr(safety._Detector, "_detector", None)
    return paths


def test_every_weights_file_the_engine_opens_is_listed_and_free_for_commercial_use(opened):
    faces.load_models()
    safety.load_models()
    identity_network._network = None
    faces._Models._loaded = None
    faces.load_models()  # the converted network, from the cache this time

    listed = commercial_use_by_file()
    assert set(opened) >= {faces.LANDMARK_MODEL, faces.IDENTITY_MODEL, identity_network.CONVERTED_MODEL, "320n.onnx"}
    assert [name for name in opened if not listed.get(name)] == []


def test_a_weights_file_marked_non_commercial_does_not_load(opened, monkeypatch):
    listed = dict(commercial_use_by_file(), **{faces.IDENTITY_MODEL: False})
    monkeypatch.setattr(weights, "commercial_use_by_file", lambda: listed)

    with pytest.raises(UnlicensedWeightsError, match="excludes commercial use"):
        faces.load_models()
    assert faces.IDENTITY_MODEL not in opened


def test_the_68_point_model_is_refused_and_an_unlisted_file_too():
    assert commercial_use_by_file()["shape_predictor_68_face_landmarks.dat"] is False
    with pytest.raises(UnlicensedWeightsError, match="excludes commercial use"):
        licensed_weights("face_recognition_models", "shape_predictor_68_face_landmarks.dat")
    with pytest.raises(UnlicensedWeightsError, match="not on models.md"):
        licensed_weights("face_recognition_models", "mystery_model.dat")
    assert Path(licensed_weights("face_recognition_models", faces.LANDMARK_MODEL)).is_file()


def test_every_listed_file_says_its_licence_and_whether_a_paid_product_may_use_it():
    rows = [line for line in (ROOT / "avatars/engine/models.md").read_text().splitlines() if line.startswith("| `")]
    assert len(rows) == len(commercial_use_by_file()) >= 3
    for row in rows:
        file, package, licence, commercial = (cell.strip() for cell in row.strip("|").split("|"))
        assert package and len(licence) > 40, row
        assert commercial.split()[0] in ("yes", "no"), row


def test_no_code_names_the_68_point_model():
    named = [
        str(path.relative_to(ROOT))
        for folder in ("accounts", "orders", "avatars", "styles", "portrait_site", "scripts")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".sh", ".toml", ".cfg") and "68_face_landmarks" in path.read_text(errors="ignore")
    ]
    assert named == []
