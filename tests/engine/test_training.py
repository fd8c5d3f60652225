"""Real DreamBooth-LoRA training on the tiny engine (64 px, a handful of steps), every family
alike, with scripted likeness scorers standing in for the face model."""

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from avatars.engine.pipeline import EngineSpec, build_tiny_pipeline, engine_from_pipeline
from avatars.engine.training import TrainResult, train_lora, training_samples_for

pytestmark = pytest.mark.slow  # trains and renders on the engine end to end

# Ten times the production rate so a few steps move the weights far enough to see in pixels.
TEST_LEARNING_RATE = 1e-3
# The smallest training that still goes through every part: rank 4 adapters, two one-step
# validation renders.
SMALL = {"rank": 4, "text_encoder_rank": 4, "validation_seeds": (0, 1), "validation_steps": 1}


def train(engine, photos, output_path, **arguments):
    """train_lora as these tests call it: a small training of "sks man" unless told otherwise."""
    return train_lora(
        engine,
        photos,
        **{"identity_token": "sks", "subject_class": "man", "output_path": output_path, **SMALL, **arguments},
    )


def trained_modules(engine) -> dict:
    """The modules a LoRA of `engine`'s family adapts, by component name: the denoiser, and the
    text encoders where the family trains them."""
    model_family = engine.model_family
    names = [model_family.denoiser_name]
    if model_family.text_encoder_lora_target_modules:
        names += list(model_family.text_encoder_names)
    return {name: getattr(engine.pipeline, name) for name in names}


def adapter_weights(pipeline) -> dict:
    """The LoRA weights the pipeline holds now, named as the saved file names them."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    weights = {}
    for name in ("unet", "transformer", "text_encoder", "text_encoder_2"):
        module = getattr(pipeline, name, None)
        if module is None or not any("lora" in module_name for module_name, _ in module.named_modules()):
            continue
        state = get_peft_model_state_dict(module, adapter_name="avatar")
        if name != "transformer":
            state = convert_state_dict_to_diffusers(state)
        weights.update({f"{name}.{key}": tensor.detach().clone() for key, tensor in state.items()})
    return weights


class ScriptedScorer:
    """score(image) from a script: one tuple of likenesses per validation, one per image (None:
    no face). It remembers the adapter weights each validation rendered with."""

    def __init__(self, pipeline, script):
        self.pipeline = pipeline
        self.script = script
        self.calls = 0
        self.weights_seen = []

    def __call__(self, image):
        images_per_validation = len(self.script[0])
        validation, index = divmod(self.calls, images_per_validation)
        if index == 0:
            self.weights_seen.append(adapter_weights(self.pipeline))
        self.calls += 1
        return self.script[validation][index]


def assert_same_weights(saved: dict, expected: dict) -> None:
    assert saved.keys() == expected.keys()
    assert all(np.array_equal(saved[name].numpy(), expected[name].numpy()) for name in saved)


def _raw_render(engine, *, seed: int = 3) -> np.ndarray:
    import torch

    return engine.pipeline(
        prompt="a photo of sks man",
        **engine.model_family.pipeline_kwargs(engine.pipeline),
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    ).images[0]


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


def _fresh_engine(family_name: str, seed: int = 0):
    return engine_from_pipeline(
        build_tiny_pipeline(seed=seed, family=family_name),
        spec=EngineSpec(family=family_name, device="cpu"),
        device="cpu",
        dtype=torch.float32,
        label=f"fresh, seed {seed}",
        is_tiny=True,
    )


def test_the_lora_loads_into_a_fresh_engine_with_the_family_loader_and_changes_its_output(
    trained, family_engine
):
    result, _, _ = trained
    fresh = _fresh_engine(family_engine.family)

    def prompt_embeds():
        with torch.no_grad():
            return fresh.model_family.caption_conditioning(
                fresh.pipeline, "a photo of sks man", device="cpu", dtype=fresh.dtype, resolution=64, batch_size=1
            )[0]

    without_lora, render_without_lora = prompt_embeds(), _raw_render(fresh)
    # The family's own loader, as the exported avatar's README tells its owner to call it.
    fresh.pipeline.load_lora_weights(str(result.lora_path.parent), weight_name=result.lora_path.name)
    with_lora, render_with_lora = prompt_embeds(), _raw_render(fresh)
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
        assert _same_embeds(with_lora, without_lora)
    assert _same_embeds(prompt_embeds(), without_lora)
    np.testing.assert_array_equal(_raw_render(fresh), render_without_lora)


def _same_embeds(first, second) -> bool:
    if isinstance(first, list):
        return all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    return torch.equal(first, second)


def test_validation_renders_with_the_render_model_and_its_scores_choose_the_checkpoint(
    family_engine, photos_of, tmp_path
):
    """Trained on one checkpoint, validated on another of the same architecture (here the tiny
    engine of another seed): the validation renders are the render model's, with the LoRA so far."""
    render_model = _fresh_engine(family_engine.family, seed=1)
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
        train(family_engine, photos_of("obama"), tmp_path / "b.safetensors", validation_engine=_fresh_engine(other))


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


def test_a_batch_of_4_and_4_accumulated_micro_batches_of_1_see_the_same_samples(
    tiny_engine, photos_of, tmp_path
):
    """The same samples are drawn whatever the micro-batch, so accumulating 4 micro-batches of
    1 trains (up to rounding) the weights of one batch of 4; a batch of 1 takes 4 times the steps."""
    results, weights, micro_steps = {}, {}, {}
    for batch_size, micro_batch_size in ((4, 4), (4, 1), (1, None)):
        calls = []
        result = train(
            tiny_engine,
            photos_of("obama"),
            tmp_path / f"{batch_size}x{micro_batch_size}.safetensors",
            samples=8,
            batch_size=batch_size,
            micro_batch_size=micro_batch_size,
            learning_rate=TEST_LEARNING_RATE,
            seed=5,
            progress=lambda seen, total, loss, calls=calls: calls.append(seen),
        )
        key = (batch_size, micro_batch_size)
        results[key], weights[key], micro_steps[key] = result, load_file(result.lora_path), calls

    assert {result.samples for result in results.values()} == {8}
    assert [(result.steps, result.micro_batch_size) for result in results.values()] == [
        (2, 4),
        (2, 1),
        (8, 1),
    ]
    assert micro_steps[(4, 4)] == [4, 8]
    assert micro_steps[(4, 1)] == micro_steps[(1, None)] == [1, 2, 3, 4, 5, 6, 7, 8]
    batch, accumulated = weights[(4, 4)], weights[(4, 1)]
    assert all(
        np.allclose(batch[name].numpy(), accumulated[name].numpy(), rtol=1e-3, atol=1e-5) for name in batch
    )
    assert any(
        not np.allclose(batch[name].numpy(), weights[(1, None)][name].numpy(), atol=1e-5) for name in batch
    )


@pytest.mark.parametrize(
    "fits, expected",
    [
        pytest.param(lambda unet, batch: batch <= 2, (2, False), id="a smaller micro-batch"),
        pytest.param(
            lambda unet, batch: unet.is_gradient_checkpointing, (4, True), id="gradient checkpointing"
        ),
    ],
)
def test_a_first_step_out_of_memory_is_taken_again_with_less(
    tiny_engine, photos_of, tmp_path, fits, expected
):
    unet = tiny_engine.denoiser

    def out_of_memory_unless_it_fits(module, args):
        if not fits(unet, args[0].shape[0]):
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    hook = unet.register_forward_pre_hook(out_of_memory_unless_it_fits)
    try:
        result = train(
            tiny_engine, photos_of("obama"), tmp_path / "a.safetensors", samples=8, batch_size=4, text_encoder_rank=0
        )
    finally:
        hook.remove()

    assert (result.micro_batch_size, result.gradient_checkpointing) == expected
    assert (result.samples, result.steps) == (8, 2)
    assert not unet.is_gradient_checkpointing


def test_the_learning_rate_warms_up_and_the_text_encoder_has_its_own(
    tiny_engine, photos_of, tmp_path, monkeypatch
):
    rates = []
    adam_step = torch.optim.AdamW.step

    def recording_step(optimizer, *args, **kwargs):
        rates.append([group["lr"] for group in optimizer.param_groups])
        return adam_step(optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    train(
        tiny_engine,
        photos_of("obama"),
        tmp_path / "a.safetensors",
        samples=16,
        batch_size=4,
        warmup_samples=8,
        learning_rate=1e-3,
        text_encoder_learning_rate=2e-3,
    )

    # diffusers' constant_with_warmup: linear from 0 over the 2 warm-up steps, then constant.
    unet_rates, text_encoder_rates = zip(*rates, strict=True)
    assert unet_rates == pytest.approx([0.0, 5e-4, 1e-3, 1e-3])
    assert text_encoder_rates == pytest.approx([0.0, 1e-3, 2e-3, 2e-3])


def test_the_8_bit_optimizer_without_bitsandbytes_is_refused_by_name(tiny_engine, photos_of, tmp_path):
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is installed here")
    with pytest.raises(ValueError, match="needs bitsandbytes"):
        train(tiny_engine, photos_of("obama"), tmp_path / "a.safetensors", samples=4, optimizer="adamw8bit")
    assert tiny_engine.active_lora is None
    assert not any("lora" in name for name, _ in tiny_engine.denoiser.named_modules())


@pytest.mark.parametrize("fails", [False, True], ids=["after training", "after a failure"])
def test_training_leaves_the_shared_engine_as_it_found_it(family_engine, photos_of, tmp_path, fails):
    def broken_scorer(image):
        raise RuntimeError("the face model broke")

    before = _raw_render(family_engine)
    modules = [family_engine.denoiser, *(getattr(family_engine.pipeline, name) for name in family_engine.model_family.text_encoder_names)]

    try:
        train(
            family_engine,
            photos_of("biden"),
            tmp_path / "b.safetensors",
            subject_class="man",
            identity_token="zwx",
            samples=4,
            batch_size=4,
            learning_rate=TEST_LEARNING_RATE,
            validate_every=4 if fails else 0,
            score=broken_scorer,
        )
    except RuntimeError as error:
        assert fails and "broke" in str(error)
    else:
        assert not fails

    for module in modules:
        assert not any("lora" in name for name, _ in module.named_modules())
        assert not any(parameter.requires_grad for parameter in module.parameters())
        assert not module.training
    assert not family_engine.denoiser.is_gradient_checkpointing
    assert family_engine.active_lora is None
    np.testing.assert_array_equal(_raw_render(family_engine), before)


def test_gradient_checkpointing_trains_the_same_weights(family_engine, photos_of, tmp_path):
    weights = []
    for checkpointing in (False, True):
        result = train(
            family_engine,
            photos_of("biden"),
            tmp_path / f"checkpointing-{checkpointing}.safetensors",
            samples=4,
            batch_size=2,
            seed=3,
            gradient_checkpointing=checkpointing,
        )
        assert result.gradient_checkpointing is checkpointing
        weights.append(load_file(result.lora_path))
    assert not family_engine.denoiser.is_gradient_checkpointing
    assert all(
        tensor.abs().max() > 0
        for name, tensor in weights[1].items()
        if name.endswith(("lora.up.weight", "lora_B.weight"))
    )
    assert all(
        np.allclose(weights[0][name].numpy(), weights[1][name].numpy(), rtol=1e-4, atol=1e-6)
        for name in weights[0]
    )


def test_the_same_seed_trains_the_same_weights(family_engine, photos_of, tmp_path):
    photos = photos_of("rose_leslie")
    paths = [
        train(
            family_engine, photos, tmp_path / f"{name}.safetensors", subject_class="woman", samples=4, batch_size=2, seed=11
        ).lora_path
        for name in ("first", "second")
    ]
    assert_same_weights(load_file(paths[0]), load_file(paths[1]))


def test_the_samples_scale_with_the_photos_as_in_the_anchors_and_are_capped():
    assert training_samples_for(20) == 3_200  # EasyPhoto's 800 steps of 4
    assert training_samples_for(10) == 1_600
    assert training_samples_for(60) == 4_000  # FaceChain's ~4,000
    assert training_samples_for(0) == 1
    assert training_samples_for(20, samples_for_reference_set=8, max_samples=100) == 8


def test_training_conditions_the_unet_on_the_caption_as_rendering_does(sd_family_engine):
    family_engine = sd_family_engine
    """What the UNet is given for the caption while training is what the pipeline gives it
    for the same prompt at the same size when rendering (without guidance, one pass): the
    prompt embeddings, and for SDXL the pooled caption and the size-and-crop time ids."""
    import torch

    caption = "a photo of sks man"
    seen = []

    def remember_conditioning(unet, args, kwargs):
        seen.append((kwargs["encoder_hidden_states"], kwargs.get("added_cond_kwargs")))

    hook = family_engine.pipeline.unet.register_forward_pre_hook(remember_conditioning, with_kwargs=True)
    try:
        family_engine.pipeline(
            caption, num_inference_steps=1, guidance_scale=1.0, height=64, width=64, output_type="latent"
        )
    finally:
        hook.remove()
    with torch.no_grad():
        prompt_embeds, added_conditions = family_engine.model_family.caption_conditioning(
            family_engine.pipeline, caption, device="cpu", dtype=family_engine.dtype, resolution=64, batch_size=1
        )

    rendered_embeds, rendered_added_conditions = seen[0]
    assert torch.equal(prompt_embeds, rendered_embeds)
    if family_engine.family == "sdxl":
        assert added_conditions.keys() == rendered_added_conditions.keys() == {"text_embeds", "time_ids"}
        for name, tensor in added_conditions.items():
            assert torch.equal(tensor, rendered_added_conditions[name]), name
        assert added_conditions["time_ids"].tolist() == [[64, 64, 0, 0, 64, 64]]
    else:
        assert added_conditions is None


def test_training_without_photos_or_with_a_micro_batch_that_does_not_divide_the_batch_is_refused(
    tiny_engine, photos_of, tmp_path
):
    with pytest.raises(ValueError, match="at least one photo"):
        train_lora(
            tiny_engine, [], identity_token="sks", subject_class="man", output_path=tmp_path / "x.safetensors"
        )
    with pytest.raises(ValueError, match="must divide"):
        train_lora(
            tiny_engine,
            photos_of("obama"),
            identity_token="sks",
            subject_class="man",
            output_path=tmp_path / "x.safetensors",
            batch_size=4,
            micro_batch_size=3,
        )


def test_an_fp16_vae_that_asks_for_fp32_encodes_the_photos_in_fp32(photos_of):
    """SDXL's VAE overflows in fp16 (force_upcast in its config): training encodes with it in
    fp32 and hands it back in fp16 for rendering."""
    import torch

    from avatars.engine.pipeline import Engine
    from avatars.engine.training import _encode_photos

    pipeline = build_tiny_pipeline(family="sdxl")
    photos = photos_of("obama")[:2]

    def engine_of(dtype) -> Engine:
        # Built by hand: diffusers moves an fp16 pipeline back to fp32 on the CPU.
        return Engine(
            spec=EngineSpec(family="sdxl"),
            pipeline=pipeline,
            image_to_image=None,
            device="cpu",
            dtype=dtype,
            label="test",
            resolution=64,
            is_tiny=True,
            load_seconds=0.0,
        )

    with torch.no_grad():
        pipeline.vae.to(torch.float16).to(torch.float32)  # the fp16 weights, run in fp32
        reference_mean, reference_std = _encode_photos(engine_of(torch.float32), photos, resolution=64)
        pipeline.vae.to(torch.float16)
        pipeline.vae.register_to_config(force_upcast=True)
        seen_dtypes = []
        hook = pipeline.vae.encoder.register_forward_pre_hook(
            lambda _, args: seen_dtypes.append(args[0].dtype)
        )
        mean, std = _encode_photos(engine_of(torch.float16), photos, resolution=64)
        hook.remove()

    assert seen_dtypes == [torch.float32, torch.float32]
    assert pipeline.vae.dtype == torch.float16
    assert torch.allclose(mean, reference_mean, atol=1e-6) and torch.allclose(std, reference_std, atol=1e-6)
