"""What a DreamBooth-LoRA training on the tiny engine produces, every family alike: the saved LoRA,
the checkpoint the scripted likeness scorer rated highest, the progress, the validation renders.
The training loop's own behaviour (batches, memory, optimizers) is in test_training_loop.py."""

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from avatars.engine.training import TrainResult
from tests.engine.training_support import (
    TEST_LEARNING_RATE,
    ScriptedScorer,
    assert_same_weights,
    fresh_engine,
    raw_render,
    same_embeds,
    train,
    trained_modules,
)

pytestmark = pytest.mark.slow  # trains and renders on the engine end to end


# Three validations (4, 8 and 12 samples): the second resembles the person most (mean 85,
# against 20 with one face missing, and 60).
SCRIPT = [(40.0, None), (80.0, 90.0), (60.0, 60.0)]


@pytest.fixture(scope="module")
def trained(family_engine, photos_of, tmp_path_factory):
    calls = []
    scorer = ScriptedScorer(family_engine.pipeline, SCRIPT)
    result = train(
        family_engine,
        photos_of("obama"),
        tmp_path_factory.mktemp("lora") / "avatar.safetensors",
        samples=12,
        batch_size=4,
        learning_rate=TEST_LEARNING_RATE,
        seed=7,
        validate_every=4,
        score=scorer,
        progress=lambda seen, total, loss: calls.append((seen, total, loss)),
    )
    return result, scorer, calls


def _adapted_layer(name: str, component: str) -> str:
    """"unet.a.b.lora.up.weight" and "transformer.a.b.lora_B.weight" adapt the layer "a.b"."""
    return name.removeprefix(f"{component}.").split(".lora")[0]


def test_training_writes_a_small_safetensors_file_of_changed_lora_weights(trained, family_engine):
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    result, _, _ = trained
    assert isinstance(result, TrainResult)
    assert (result.samples, result.steps, result.batch_size, result.micro_batch_size) == (12, 3, 4, 4)
    assert result.gradient_checkpointing is False
    assert math.isfinite(result.final_loss) and result.final_loss > 0
    assert result.seconds > result.validation_seconds > 0
    assert 1_000 < result.lora_path.stat().st_size < 5_000_000
    assert [path.name for path in result.lora_path.parent.iterdir()] == ["avatar.safetensors"]

    weights = load_file(result.lora_path)
    model_family = family_engine.model_family
    modules = trained_modules(family_engine)
    assert {name.split(".")[0] for name in weights} == modules.keys()
    for component, module in modules.items():
        targets = (
            model_family.lora_targets(module)
            if component == model_family.denoiser_name
            else list(model_family.text_encoder_lora_target_modules)
        )
        up = {
            name: tensor
            for name, tensor in weights.items()
            if name.startswith(f"{component}.") and (".up." in name or ".lora_B." in name)
        }
        config = LoraConfig(target_modules=targets)
        projections = {
            name
            for name, layer in module.named_modules()
            if isinstance(layer, torch.nn.Linear) and check_target_module_exists(config, name)
        }
        projections = {name.removesuffix(".base_layer") for name in projections if "lora_" not in name}
        assert {_adapted_layer(name, component) for name in up} == projections, component
        # peft starts every lora_B ("up") at zero, so a non-zero one was moved by the optimizer.
        # SDXL conditions on the first text encoder's next-to-last layer, so its last layer
        # gets no gradient: the text encoders' adapters move in part.
        moved = [tensor.abs().max() > 0 for tensor in up.values()]
        assert all(moved) if component == model_family.denoiser_name else any(moved), component


def test_the_saved_lora_is_the_checkpoint_the_scorer_rated_highest(trained):
    result, scorer, _ = trained
    saved = load_file(result.lora_path)

    assert [
        (point.samples, point.mean_likeness, point.best_likeness, point.faces_found, point.images)
        for point in result.curve
    ] == [(4, 20.0, 40.0, 1, 2), (8, 85.0, 90.0, 2, 2), (12, 60.0, 60.0, 2, 2)]
    assert all(math.isfinite(point.loss) for point in result.curve)
    assert result.chosen == result.curve[1]
    assert result.likeness_measured and result.best_likeness == 85.0
    assert_same_weights(saved, scorer.weights_seen[1])
    # The weights moved after the chosen validation: the last checkpoint is not the one kept.
    assert any(
        not np.array_equal(saved[name].numpy(), scorer.weights_seen[2][name].numpy()) for name in saved
    )


def test_progress_is_reported_after_every_micro_batch_and_validation_step(trained):
    _, _, calls = trained
    # One micro-batch of 4 per step, then one denoising step of its validation.
    assert [(seen, total) for seen, total, _ in calls] == [
        (4, 12),
        (4, 12),
        (8, 12),
        (8, 12),
        (12, 12),
        (12, 12),
    ]
    assert all(math.isfinite(loss) for _, _, loss in calls)



def test_the_lora_loads_into_afresh_engine_with_the_family_loader_and_changes_its_output(
    trained, family_engine
):
    result, _, _ = trained
    fresh = fresh_engine(family_engine.family)

    def prompt_embeds():
        with torch.no_grad():
            return fresh.model_family.caption_conditioning(
                fresh.pipeline, "a photo of sks man", device="cpu", dtype=fresh.dtype, resolution=64, batch_size=1
            )[0]

    without_lora, render_without_lora = prompt_embeds(), raw_render(fresh)
    # The family's own loader, as the exported avatar's README tells its owner to call it.
    fresh.pipeline.load_lora_weights(str(result.lora_path.parent), weight_name=result.lora_path.name)
    with_lora, render_with_lora = prompt_embeds(), raw_render(fresh)
    fresh.use_lora(None)
    fresh.use_lora(result.lora_path)
    frozen = not any(
        parameter.requires_grad for module in trained_modules(fresh).values() for parameter in module.parameters()
    )
    fresh.use_lora(None)

    # Far above rounding: without the LoRA the render is bit for bit the same (the last line).
    # The tiny klein's small VAE moves its pixels least (about 1e-4 after this training).
    assert np.abs(render_with_lora - render_without_lora).max() > 2e-5
    assert frozen
    if family_engine.model_family.text_encoder_lora_target_modules:
        assert (with_lora - without_lora).abs().max() > 1e-4
    else:
        # The transformer families' text encoder stays frozen: the caption reads the same.
        assert same_embeds(with_lora, without_lora)
    assert same_embeds(prompt_embeds(), without_lora)
    np.testing.assert_array_equal(raw_render(fresh), render_without_lora)



def test_validation_renders_with_the_render_model_and_its_scores_choose_the_checkpoint(
    family_engine, photos_of, tmp_path
):
    """Trained on one checkpoint, validated on another of the same architecture (here the tiny
    engine of another seed): the validation renders are the render model's, with the LoRA so far."""
    render_model = fresh_engine(family_engine.family, seed=1)
    seen = []

    def score(image):
        seen.append(np.asarray(image).copy())
        return [70.0, 70.0, 30.0, 30.0][len(seen) - 1]

    result = train(
        family_engine,
        photos_of("obama"),
        tmp_path / "a.safetensors",
        samples=8,
        batch_size=4,
        learning_rate=TEST_LEARNING_RATE,
        validate_every=4,
        score=score,
        validation_engine=render_model,
    )

    assert [point.mean_likeness for point in result.curve] == [70.0, 30.0]
    assert result.chosen == result.curve[0]
    assert result.validated_with == render_model.label == "fresh, seed 1"
    assert render_model.active_lora is None and family_engine.active_lora is None
    # The first validation render is the render model's (with the LoRA so far), not the training model's.
    from avatars.engine.validation import render_validation_images

    arguments = {"identity_token": "sks", "subject_class": "man", "seeds": (0,), "steps": 1, "size": 48}
    bare_training = np.asarray(render_validation_images(family_engine, **arguments)[0])
    assert np.abs(seen[0].astype(int) - bare_training.astype(int)).max() > 0
    with pytest.raises(ValueError, match="loads only into its own architecture"):
        other = "sdxl" if family_engine.family == "sd15" else "sd15"
        train(family_engine, photos_of("obama"), tmp_path / "b.safetensors", validation_engine=fresh_engine(other))


def test_a_scorer_that_never_finds_a_face_keeps_the_last_checkpoint_not_measured(
    tiny_engine, photos_of, tmp_path
):
    scorer = ScriptedScorer(tiny_engine.pipeline, [(None, None), (None, None)])

    result = train(
        tiny_engine,
        photos_of("biden"),
        tmp_path / "a.safetensors",
        samples=8,
        batch_size=4,
        learning_rate=TEST_LEARNING_RATE,
        validate_every=4,
        score=scorer,
    )

    assert result.chosen is None and not result.likeness_measured and result.best_likeness is None
    assert [
        (point.samples, point.mean_likeness, point.faces_found, point.images) for point in result.curve
    ] == [(4, None, 0, 2), (8, None, 0, 2)]
    assert_same_weights(load_file(result.lora_path), scorer.weights_seen[-1])


def test_without_a_scorer_the_curve_has_the_loss_and_nothing_is_rendered(tiny_engine, photos_of, tmp_path):
    result = train(tiny_engine, photos_of("biden"), tmp_path / "a.safetensors", samples=8, batch_size=4, validate_every=4)

    assert [(point.samples, point.mean_likeness, point.images) for point in result.curve] == [
        (4, None, 0),
        (8, None, 0),
    ]
    assert all(math.isfinite(point.loss) for point in result.curve)
    assert not result.likeness_measured and result.validation_seconds == 0
