"""The LoRA training loop on the tiny engine: batches and micro-batches, a step out of memory,
learning rates and optimizers, the shared engine left as found, the same seed the same weights,
the samples scaled with the photos, and the trainings refused."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from avatars.engine.pipeline import EngineSpec, build_tiny_pipeline
from avatars.engine.training import train_lora, training_samples_for
from tests.engine.training_support import (
    TEST_LEARNING_RATE,
    assert_same_weights,
    raw_render,
    train,
)

pytestmark = pytest.mark.slow  # trains and renders on the engine end to end


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

    before = raw_render(family_engine)
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
    np.testing.assert_array_equal(raw_render(family_engine), before)


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
