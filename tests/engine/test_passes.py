"""The finishing passes on the tiny engine with injected face boxes and scorers: the face pass
redraws only under its mask and only when likeness does not drop, the high-resolution pass
makes the template's size, "more like me" keeps a version only when it is measured better."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from avatars.engine.families.sd15 import SD15
from avatars.engine.families.sdxl import SDXL
from avatars.engine.more_like_me import is_more_like, more_like_me_parameters
from avatars.engine.passes import (
    Redraw,
    face_crop_box,
    face_mask,
    face_pass,
    hires_pass,
    likeness_verdict,
    output_long_side,
    output_size,
    web_copy,
)
from avatars.engine.rendering import render

FACE = (12, 16, 36, 44)


class ScriptedScore:
    """A likeness callback returning the given values in turn, remembering what it saw."""

    def __init__(self, values):
        self.values = list(values)
        self.images = []

    def __call__(self, image):
        self.images.append(image)
        return self.values[len(self.images) - 1]


@pytest.fixture(scope="module")
def picture():
    """A 48x64 picture with structure everywhere, standing in for a render."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:48]
    pixels = np.stack([x * 5, y * 4, (x + y) * 2], axis=-1) + rng.integers(0, 40, size=(64, 48, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def _settings(**overrides):
    return Redraw(**{"prompt": "photo of sks man", "negative_prompt": "", "guidance_scale": 5.0, "steps": 4,
                     "seed": 3, **overrides})


def _face_pass(engine, picture, **overrides):
    arguments = {
        "settings": _settings(),
        "strength": 0.5,
        "find_face": lambda image: FACE,
        "score": None,
        "likeness_before": None,
    }
    return face_pass(engine, picture, **{**arguments, **overrides})


def test_the_face_pass_changes_pixels_only_inside_its_feathered_mask(tiny_engine, picture):
    outcome = _face_pass(tiny_engine, picture)

    crop = face_crop_box(FACE, picture.size)
    mask = np.asarray(face_mask(picture.size, FACE, crop))
    before, after = np.asarray(picture, dtype=np.int16), np.asarray(outcome.image, dtype=np.int16)
    changed = np.abs(after - before).max(axis=2) > 0
    assert outcome.record.kept and outcome.record.note == "not measured"
    assert outcome.image.size == picture.size
    assert changed.sum() > 100
    assert not changed[mask == 0].any()
    # Feathered: the mask rises gradually, the face's middle is fully redrawn.
    assert len(np.unique(mask)) > 20
    assert mask[(FACE[1] + FACE[3]) // 2, (FACE[0] + FACE[2]) // 2] == 255
    assert mask[0, 0] == 0 and mask[-1, -1] == 0


def test_the_mask_stays_inside_the_crop_even_at_the_picture_edge():
    face = (0, 0, 46, 46)
    crop = face_crop_box(face, (48, 64))
    mask = np.asarray(face_mask((48, 64), face, crop))
    assert crop == (0, 0, 48, 48)
    assert mask[47, 24] > 0
    assert not mask[48:, :].any()


def test_the_face_pass_does_nothing_when_there_is_no_face(tiny_engine, picture):
    score = ScriptedScore([])

    outcome = _face_pass(tiny_engine, picture, find_face=lambda image: None, score=score, likeness_before=61.0)

    assert outcome.image.tobytes() == picture.tobytes()
    assert outcome.likeness == 61.0
    assert not outcome.record.kept and not outcome.redrew
    assert outcome.record.note == "no face found"
    assert score.images == []


def test_the_face_pass_keeps_the_better_of_before_and_after(tiny_engine, picture):
    better = _face_pass(tiny_engine, picture, score=ScriptedScore([64.0]), likeness_before=60.0)
    worse = _face_pass(tiny_engine, picture, score=ScriptedScore([58.5]), likeness_before=60.0)
    tie = _face_pass(tiny_engine, picture, score=ScriptedScore([60.0]), likeness_before=60.0)
    lost = _face_pass(tiny_engine, picture, score=ScriptedScore([None]), likeness_before=60.0)

    assert better.record.kept and better.likeness == 64.0
    assert better.image.tobytes() != picture.tobytes()
    assert not worse.record.kept and worse.likeness == 60.0 and worse.record.likeness == 58.5
    assert worse.image.tobytes() == picture.tobytes()
    assert "the face before it kept" in worse.record.note
    assert tie.record.kept
    assert not lost.record.kept and lost.image.tobytes() == picture.tobytes()


def test_the_output_size_follows_the_template_and_the_tiny_engine_shrinks_it():
    sd15 = SimpleNamespace(model_family=SD15, is_tiny=False, resolution=512)
    sdxl = SimpleNamespace(model_family=SDXL, is_tiny=False, resolution=1024)
    tiny = SimpleNamespace(model_family=SD15, is_tiny=True, resolution=64)

    assert output_long_side(sd15, 0) == SD15.default_output_long_side == 1024
    assert output_long_side(sdxl, 0) == 2048
    assert output_long_side(sd15, 1536) == 1536
    assert output_long_side(tiny, 1024) == 128
    assert output_size((512, 640), 1024) == (816, 1024)
    assert output_size((48, 64), 128) == (96, 128)


def test_a_render_with_the_hires_pass_has_the_template_size(family_engine):
    long_side = family_engine.model_family.default_output_long_side
    result = render(
        family_engine, lora_path=None, identity_token="sks", subject_class="man", prompt="photo of {identity}",
        steps=4, width=512, height=640, output_long_side=long_side,
    )

    assert result.image.size == (96, 128)
    assert [stage.stage for stage in result.stages] == ["base", "hires"]
    assert (result.stages[0].width, result.stages[0].height) == (48, 64)
    assert result.stages[1].kept and (result.stages[1].width, result.stages[1].height) == (96, 128)
    assert (result.parameters["output_width"], result.parameters["output_height"]) == (96, 128)


def test_a_refine_that_lowers_likeness_falls_back_to_the_plain_upscale(tiny_engine, picture):
    outcome = hires_pass(
        tiny_engine, picture, settings=_settings(), long_side=1024, strength=0.3,
        score=ScriptedScore([50.0, 59.0]), likeness_before=60.0,
    )

    assert outcome.image.size == (96, 128)
    assert outcome.image.tobytes() == picture.resize((96, 128), Image.Resampling.LANCZOS).tobytes()
    assert not outcome.record.kept and outcome.record.likeness == 50.0
    assert outcome.likeness == 59.0


def test_the_tiled_vae_refines_and_is_put_back_as_it_was(tiny_engine, picture):
    vae = tiny_engine.pipeline.vae
    assert not vae.use_tiling

    tiled = hires_pass(
        tiny_engine, picture, settings=_settings(), long_side=1024, strength=0.3,
        score=None, likeness_before=None, vae_tiling=True,
    )
    untiled = hires_pass(
        tiny_engine, picture, settings=_settings(), long_side=1024, strength=0.3,
        score=None, likeness_before=None, vae_tiling=False,
    )

    assert tiled.details["vae_tiling"] and not vae.use_tiling
    assert tiled.image.size == untiled.image.size == (96, 128)
    # 128 px is past the tiny VAE's 64 px tile: the tiled decode really ran in tiles.
    assert tiled.image.tobytes() != untiled.image.tobytes()


def test_no_hires_pass_when_the_output_is_not_larger(tiny_engine, picture):
    outcome = hires_pass(
        tiny_engine, picture, settings=_settings(), long_side=256, strength=0.3, score=None, likeness_before=None
    )
    assert outcome.image.tobytes() == picture.tobytes() and not outcome.redrew
    assert outcome.record.note == "output not larger than the render"


def test_the_web_copy_scales_down_and_never_up():
    large = Image.new("RGB", (1632, 2048))
    assert web_copy(large, long_side=1024).size == (816, 1024)
    assert web_copy(Image.new("RGB", (96, 128)), long_side=1024).size == (96, 128)


def test_a_render_reports_every_stage_and_counts_the_passes_steps(tiny_engine):
    calls = []
    score = ScriptedScore([40.0, 45.0, 47.0])

    result = render(
        tiny_engine, lora_path=None, identity_token="sks", subject_class="man", prompt="photo of {identity}",
        steps=4, width=512, height=640, score=score, find_face=lambda image: FACE, face_strength=0.5,
        output_long_side=1024, hires_strength=0.5, progress=lambda step, total: calls.append((step, total)),
    )

    assert [(stage.stage, stage.kept, stage.likeness) for stage in result.stages] == [
        ("base", True, 40.0), ("face", True, 45.0), ("hires", True, 47.0),
    ]
    assert result.likeness == 47.0 and result.image is score.images[2]
    assert all(stage.seconds > 0 for stage in result.stages)
    assert calls == [(step, 8) for step in range(1, 9)]
    assert result.parameters["face_pass"]["kept"] and result.parameters["hires_pass"]["refined"]
    assert [stage["stage"] for stage in result.parameters["stages"]] == ["base", "face", "hires"]
    assert result.parameters["face_strength"] == 0.5 and result.parameters["output_long_side"] == 1024


def test_a_face_pass_that_finds_no_face_takes_its_steps_out_of_the_total(tiny_engine):
    calls = []
    result = render(
        tiny_engine, lora_path=None, identity_token="sks", subject_class="man", prompt="photo of {identity}",
        steps=4, find_face=lambda image: None, output_long_side=1024, hires_strength=0.5,
        progress=lambda step, total: calls.append((step, total)),
    )
    assert [(stage.stage, stage.kept) for stage in result.stages] == [("base", True), ("face", False), ("hires", True)]
    assert calls == [(1, 7), (2, 7), (3, 7), (4, 7), (5, 6), (6, 6)]


def test_likeness_verdicts():
    assert likeness_verdict(61.0, 60.0, keep_ties=True).keep
    assert likeness_verdict(60.0, 60.0, keep_ties=True).keep
    assert not likeness_verdict(59.9, 60.0, keep_ties=True).keep
    assert not likeness_verdict(None, 60.0, keep_ties=True).keep
    unmeasured = likeness_verdict(None, None, keep_ties=True)
    assert unmeasured.keep and not unmeasured.measured and unmeasured.reason == "not measured"


def test_more_like_me_keeps_a_version_only_when_measured_better():
    assert is_more_like(72.0, 70.0).keep
    assert not is_more_like(70.0, 70.0).keep
    assert not is_more_like(65.0, 70.0).keep
    assert not is_more_like(None, 70.0).keep
    assert is_more_like(70.0, None).keep and is_more_like(70.0, None).measured
    not_measured = is_more_like(None, None)
    assert not_measured.keep and not not_measured.measured and not_measured.reason == "not measured"


def test_more_like_me_raises_the_face_pass_strength_within_its_bound():
    history = [{"face_strength": 0.4, "seed": 1}]
    for _ in range(6):
        history.append(more_like_me_parameters(history[-1]))
    assert [entry["face_strength"] for entry in history] == [0.4, 0.45, 0.5, 0.55, 0.6, 0.6, 0.6]
    assert more_like_me_parameters({})["face_strength"] == 0.45
    assert more_like_me_parameters({"face_strength": 0.7})["face_strength"] == 0.7
