"""Rendering on the tiny engine (every family alike) with real LoRAs: candidates,
re-rolls, avatars swapped in and out of the one loaded pipeline, image-to-image, the LoRA
fused for a job, the passes repeated from their parameters, "more like me"."""

import json

import numpy as np
import pytest
import torch

from avatars.engine.candidates import candidate_seed
from avatars.engine.more_like_me import more_like_me_parameters
from avatars.engine.rendering import render, render_arguments, render_size
from avatars.engine.training import train_lora

pytestmark = pytest.mark.slow  # trains and renders on the engine end to end

TEMPLATE_PROMPT = "studio portrait of {identity}, soft window light"


@pytest.fixture(scope="module")
def avatars(family_engine, photos_of, tmp_path_factory):
    """Two people's LoRAs, trained for a few steps at a high rate so they differ visibly."""
    folder = tmp_path_factory.mktemp("avatars")
    paths = {}
    for person, seed in (("obama", 1), ("biden", 2)):
        paths[person] = train_lora(
            family_engine,
            photos_of(person),
            identity_token="sks",
            subject_class="man",
            output_path=folder / f"{person}.safetensors",
            rank=4,
            samples=4,
            batch_size=1,
            text_encoder_rank=0,
            learning_rate=1e-3,
            seed=seed,
        ).lora_path
    return paths


def _render(engine, lora_path, **overrides):
    arguments = {
        "lora_path": lora_path,
        "identity_token": "sks",
        "subject_class": "man",
        "prompt": TEMPLATE_PROMPT,
        "steps": 2,
        "seed": 5,
    }
    return render(engine, **{**arguments, **overrides})


def _pixels(result) -> np.ndarray:
    return np.asarray(result.image, dtype=np.int16)


class ScriptedScore:
    """A likeness callback returning the given values in turn, remembering what it saw."""

    def __init__(self, values):
        self.values = list(values)
        self.images = []

    def __call__(self, image):
        self.images.append(image)
        return self.values[len(self.images) - 1]


def test_swapping_avatars_in_the_cached_engine_does_not_leak(family_engine, avatars):
    first_a = _render(family_engine, avatars["obama"])
    b = _render(family_engine, avatars["biden"])
    second_a = _render(family_engine, avatars["obama"])
    bare = _render(family_engine, None)

    np.testing.assert_array_equal(_pixels(second_a), _pixels(first_a))
    assert np.abs(_pixels(b) - _pixels(first_a)).max() > 0
    assert np.abs(_pixels(bare) - _pixels(first_a)).max() > 0
    assert family_engine.active_lora is None
    assert not any("lora" in name for name, _ in family_engine.denoiser.named_modules())


def test_lora_scale_changes_the_render(family_engine, avatars):
    full = _render(family_engine, avatars["obama"], lora_scale=1.0)
    off = _render(family_engine, avatars["obama"], lora_scale=0.0)
    bare = _render(family_engine, None)

    assert np.abs(_pixels(full) - _pixels(off)).max() > 0
    np.testing.assert_array_equal(_pixels(off), _pixels(bare))


def test_render_keeps_the_best_scoring_candidate(family_engine, avatars):
    score = ScriptedScore([0.3, 0.8, None])

    result = _render(family_engine, avatars["obama"], candidates=3, score=score, seed=40)

    assert result.candidates_tried == 3
    assert result.likeness == 0.8
    assert result.seed == candidate_seed(40, 1)
    assert result.image is score.images[1]
    assert result.parameters["candidate_seeds"] == [candidate_seed(40, index) for index in range(3)]
    assert result.parameters["candidate_likeness"] == [0.3, 0.8, None]
    assert len({image.tobytes() for image in score.images}) == 3


def test_render_rerolls_while_no_face_or_too_little_likeness(family_engine, avatars):
    score = ScriptedScore([None, None, 0.2, 0.4, 0.7, 0.1])

    result = _render(
        family_engine, avatars["obama"], candidates=2, score=score, max_rerolls=5, min_likeness=0.5, seed=9
    )

    assert result.candidates_tried == 6
    assert result.likeness == 0.7
    assert result.seed == candidate_seed(9, 4)
    assert len(set(result.parameters["candidate_seeds"])) == 6


def test_rerolls_stop_at_the_limit_and_return_the_best_seen(family_engine, avatars):
    no_face = ScriptedScore([None, None, None])
    result = _render(family_engine, avatars["obama"], score=no_face, max_rerolls=2)
    assert result.candidates_tried == 3
    assert result.likeness is None
    assert result.image is no_face.images[0]

    too_unlike = ScriptedScore([0.1, None, 0.3])
    result = _render(family_engine, avatars["obama"], score=too_unlike, max_rerolls=2, min_likeness=0.9)
    assert result.candidates_tried == 3
    assert result.likeness == 0.3


def test_without_a_score_the_first_candidate_is_kept_and_nothing_rerolled(family_engine, avatars):
    result = _render(family_engine, avatars["obama"], candidates=2, max_rerolls=3, seed=12)
    assert result.candidates_tried == 2
    assert result.seed == 12
    assert result.likeness is None


def test_parameters_record_the_render_and_reproduce_it(family_engine, avatars):
    result = _render(
        family_engine, avatars["obama"], negative_prompt="blurry", guidance_scale=6.0, beauty=0.2
    )
    parameters = json.loads(json.dumps(result.parameters))

    assert parameters["engine"] == "tiny engine: not a real model"
    assert parameters["family"] == family_engine.family
    assert parameters["mode"] == "txt2img"
    assert parameters["prompt"] == TEMPLATE_PROMPT
    assert parameters["resolved_prompt"] == "studio portrait of sks man, soft window light"
    assert parameters["negative_prompt"] == "blurry"
    assert parameters["guidance_scale"] == 6.0
    assert parameters["beauty"] == 0.2
    assert parameters["lora"] == "obama.safetensors"
    assert (parameters["width"], parameters["height"]) == (64, 64)

    again = render(family_engine, lora_path=avatars["obama"], **render_arguments(parameters))
    np.testing.assert_array_equal(_pixels(again), _pixels(result))


def test_the_tiny_engine_scales_a_template_size_down_keeping_its_aspect(family_engine):
    assert render_size(family_engine, 512, 640) == (48, 64)
    assert render_size(family_engine, None, None) == (64, 64)
    result = _render(family_engine, None, width=512, height=640)
    assert result.image.size == (48, 64)


def test_a_reference_image_renders_image_to_image(family_engine, avatars, photos_of):
    reference = photos_of("kit_harington")[0]
    steps_seen = []

    close = _render(
        family_engine,
        avatars["obama"],
        reference_image=reference,
        strength=0.5,
        steps=4,
        progress=lambda step, total: steps_seen.append((step, total)),
    )
    far = _render(family_engine, avatars["obama"], reference_image=reference, strength=1.0, steps=4)
    from_text = _render(family_engine, avatars["obama"], steps=4)

    assert close.parameters["mode"] == "img2img"
    assert close.parameters["strength"] == 0.5
    assert close.image.size == (64, 64)
    assert steps_seen == [(1, 2), (2, 2)]
    assert np.abs(_pixels(close) - _pixels(far)).max() > 0
    assert np.abs(_pixels(close) - _pixels(from_text)).max() > 0


def test_image_to_image_renders_several_candidates_in_one_batch(family_engine, avatars, photos_of):
    score = ScriptedScore([0.1, 0.2])
    result = _render(
        family_engine,
        avatars["obama"],
        reference_image=photos_of("rose_leslie")[0],
        candidates=2,
        score=score,
    )
    assert result.parameters["mode"] == "img2img"
    assert result.candidates_tried == 2
    assert result.image is score.images[1]
    assert score.images[0].tobytes() != score.images[1].tobytes()


def test_progress_counts_steps_across_rerolls(family_engine, avatars):
    calls = []
    _render(
        family_engine,
        avatars["obama"],
        score=ScriptedScore([None, 0.9]),
        max_rerolls=3,
        progress=lambda step, total: calls.append((step, total)),
    )
    assert calls == [(1, 2), (2, 2), (3, 4), (4, 4)]


def test_more_like_me_moves_toward_the_avatar_monotonically_and_stays_bounded():
    parameters = {"lora_scale": 0.8, "strength": 0.6, "guidance_scale": 7.5, "seed": 123, "prompt": "x {identity}"}
    original = dict(parameters)
    history = [parameters]
    for _ in range(20):
        history.append(more_like_me_parameters(history[-1]))

    assert parameters == original
    for before, after in zip(history, history[1:], strict=False):
        assert after["lora_scale"] >= before["lora_scale"]
        assert after["strength"] >= before["strength"]
        assert after["guidance_scale"] <= before["guidance_scale"]
        assert after["seed"] == 123
        assert after["prompt"] == "x {identity}"
    assert history[1]["lora_scale"] > history[0]["lora_scale"]
    assert history[1]["strength"] > history[0]["strength"]
    assert history[1]["guidance_scale"] < history[0]["guidance_scale"]
    assert history[-1]["lora_scale"] == 1.4
    assert history[-1]["strength"] == 0.9
    assert history[-1]["guidance_scale"] == 4.0
    assert history[-1]["more_like_me_clicks"] == 20


def test_more_like_me_never_pulls_a_value_back_from_past_its_bound():
    beyond = {"lora_scale": 1.6, "strength": 0.95, "guidance_scale": 3.0, "seed": 1}
    after = more_like_me_parameters(beyond)
    assert (after["lora_scale"], after["strength"], after["guidance_scale"]) == (1.6, 0.95, 3.0)


def _unet_weights(engine) -> dict:
    return {name: tensor.clone() for name, tensor in engine.denoiser.state_dict().items()}


def _assert_same_weights(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_a_fused_render_matches_an_unfused_one_and_leaves_the_weights_bit_identical(family_engine, avatars):
    family_engine.clear_lora()
    bare_weights = _unet_weights(family_engine)

    unfused = _render(family_engine, avatars["obama"], fuse_lora=False)
    weights_with_lora = _unet_weights(family_engine)
    fused = _render(family_engine, avatars["obama"])
    weights_after_fused = _unet_weights(family_engine)
    half_fused = _render(family_engine, avatars["obama"], lora_scale=0.5)
    half_unfused = _render(family_engine, avatars["obama"], lora_scale=0.5, fuse_lora=False)
    unfused_again = _render(family_engine, avatars["obama"], fuse_lora=False)
    bare = _render(family_engine, None)

    assert fused.parameters["fuse_lora"] and not unfused.parameters["fuse_lora"]
    for fused_result, unfused_result in ((fused, unfused), (half_fused, half_unfused)):
        difference = np.abs(_pixels(fused_result) - _pixels(unfused_result))
        assert difference.max() <= 2 and difference.mean() < 0.01
    # The LoRA and its scale show, so fusing is not just dropping the adapter. The tiny klein's
    # LoRA moves its pixels least (its 8-channel VAE): it shows, by less.
    visible = 0.01 if family_engine.family == "flux2_klein" else 0.1
    assert np.abs(_pixels(unfused) - _pixels(bare)).mean() > visible
    assert np.abs(_pixels(half_fused) - _pixels(fused)).mean() > visible
    _assert_same_weights(weights_after_fused, weights_with_lora)
    np.testing.assert_array_equal(_pixels(unfused_again), _pixels(unfused))
    _assert_same_weights(_unet_weights(family_engine), bare_weights)


def test_the_passes_reproduce_from_the_recorded_parameters(family_engine, avatars):
    face = (10, 14, 38, 46)
    result = _render(
        family_engine, avatars["obama"], width=512, height=640, find_face=lambda image: face,
        score=lambda image: 70.0, face_strength=0.5, output_long_side=0,
    )
    parameters = json.loads(json.dumps(result.parameters))

    again = render(
        family_engine, lora_path=avatars["obama"], find_face=lambda image: face, score=lambda image: 70.0,
        **render_arguments(parameters),
    )

    assert result.image.size == (96, 128)
    assert parameters["output_long_side"] == 0 and parameters["face_pass"]["face_box"] == list(face)
    np.testing.assert_array_equal(_pixels(again), _pixels(result))
