"""Real DreamBooth-LoRA training on the tiny engine (64 px, a handful of steps), SD 1.5
and SDXL alike."""

import math

import numpy as np
import pytest
from safetensors.torch import load_file

from avatars.engine.pipeline import build_tiny_pipeline
from avatars.engine.training import LORA_TARGET_MODULES, TrainResult, caption_conditioning, train_lora

pytestmark = pytest.mark.slow  # trains and renders on the engine end to end

# Ten times the production rate so a few steps move the weights far enough to see in pixels.
TEST_LEARNING_RATE = 1e-3


@pytest.fixture(scope="module")
def trained(family_engine, photos_of, tmp_path_factory):
    calls = []
    result = train_lora(
        family_engine,
        photos_of("obama"),
        identity_token="sks",
        subject_class="man",
        output_path=tmp_path_factory.mktemp("lora") / "avatar.safetensors",
        rank=4,
        steps=6,
        learning_rate=TEST_LEARNING_RATE,
        seed=7,
        progress=lambda step, total, loss: calls.append((step, total, loss)),
        progress_every=2,
    )
    return result, calls


def _raw_render(pipeline, *, seed: int = 3) -> np.ndarray:
    import torch

    return pipeline(
        "a photo of sks man",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    ).images[0]


def test_training_writes_a_small_safetensors_file_of_changed_lora_weights(trained, family_engine):
    result, _ = trained
    assert isinstance(result, TrainResult)
    assert result.steps == 6
    assert math.isfinite(result.final_loss) and result.final_loss > 0
    assert result.seconds > 0
    assert 1_000 < result.lora_path.stat().st_size < 5_000_000
    assert [path.name for path in result.lora_path.parent.iterdir()] == ["avatar.safetensors"]

    weights = load_file(result.lora_path)
    up = {name: tensor for name, tensor in weights.items() if name.endswith("lora.up.weight")}
    down = {name: tensor for name, tensor in weights.items() if name.endswith("lora.down.weight")}
    assert up and len(up) == len(down)
    assert all(name.startswith("unet.") for name in weights)
    unet_modules = family_engine.pipeline.unet.named_modules()
    attention_projections = {name for name, _ in unet_modules if name.endswith(tuple(LORA_TARGET_MODULES))}
    adapted = {name.removeprefix("unet.").removesuffix(".lora.up.weight") for name in up}
    assert adapted == attention_projections
    # peft starts every lora_B ("up") at zero, so a non-zero one was moved by the optimizer.
    assert all(tensor.abs().max() > 0 for tensor in up.values())


def test_progress_is_reported_every_few_steps_and_at_the_end(trained):
    _, calls = trained
    assert [(step, total) for step, total, _ in calls] == [(2, 6), (4, 6), (6, 6)]
    assert all(math.isfinite(loss) for _, _, loss in calls)


def test_saved_lora_loads_into_a_fresh_pipeline_and_changes_its_output(trained, family_engine):
    result, _ = trained
    fresh = build_tiny_pipeline(seed=0, family=family_engine.family)
    fresh.set_progress_bar_config(disable=True)
    without_lora = _raw_render(fresh)

    fresh.load_lora_weights(str(result.lora_path.parent), weight_name=result.lora_path.name)
    with_lora = _raw_render(fresh)
    fresh.unload_lora_weights()
    unloaded = _raw_render(fresh)

    assert np.abs(with_lora - without_lora).max() > 1e-3
    np.testing.assert_array_equal(unloaded, without_lora)


def test_training_leaves_the_shared_engine_as_it_found_it(family_engine, photos_of, tmp_path):
    unet = family_engine.pipeline.unet
    before = _raw_render(family_engine.pipeline)

    train_lora(
        family_engine,
        photos_of("biden"),
        identity_token="zwx",
        subject_class="man",
        output_path=tmp_path / "b.safetensors",
        rank=4,
        steps=2,
        learning_rate=TEST_LEARNING_RATE,
    )

    assert not any("lora" in name for name, _ in unet.named_modules())
    assert not any(parameter.requires_grad for parameter in unet.parameters())
    assert not unet.training
    assert family_engine.active_lora is None
    np.testing.assert_array_equal(_raw_render(family_engine.pipeline), before)


def test_gradient_checkpointing_trains_the_same_weights(family_engine, photos_of, tmp_path):
    weights = []
    for checkpointing in (False, True):
        result = train_lora(
            family_engine,
            photos_of("biden"),
            identity_token="sks",
            subject_class="man",
            output_path=tmp_path / f"checkpointing-{checkpointing}.safetensors",
            rank=4,
            steps=2,
            seed=3,
            gradient_checkpointing=checkpointing,
        )
        weights.append(load_file(result.lora_path))
    assert not family_engine.pipeline.unet.is_gradient_checkpointing
    assert all(tensor.abs().max() > 0 for name, tensor in weights[1].items() if name.endswith("lora.up.weight"))
    assert all(torch_allclose(weights[0][name], weights[1][name]) for name in weights[0])


def torch_allclose(a, b) -> bool:
    import torch

    return torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_the_same_seed_trains_the_same_weights(family_engine, photos_of, tmp_path):
    photos = photos_of("rose_leslie")
    paths = []
    for name in ("first", "second"):
        result = train_lora(
            family_engine,
            photos,
            identity_token="sks",
            subject_class="woman",
            output_path=tmp_path / f"{name}.safetensors",
            rank=4,
            steps=2,
            seed=11,
        )
        paths.append(result.lora_path)
    first, second = load_file(paths[0]), load_file(paths[1])
    assert first.keys() == second.keys()
    assert all((first[name] == second[name]).all() for name in first)


def test_training_conditions_the_unet_on_the_caption_as_rendering_does(family_engine):
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
        prompt_embeds, added_conditions = caption_conditioning(
            family_engine, caption, resolution=64, batch_size=1
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


def test_training_without_photos_is_refused(tiny_engine, tmp_path):
    with pytest.raises(ValueError, match="at least one photo"):
        train_lora(tiny_engine, [], identity_token="sks", subject_class="man", output_path=tmp_path / "x.safetensors")


def test_an_fp16_vae_that_asks_for_fp32_encodes_the_photos_in_fp32(photos_of):
    """SDXL's VAE overflows in fp16 (force_upcast in its config): training encodes with it in
    fp32 and hands it back in fp16 for rendering."""
    import torch

    from avatars.engine.pipeline import Engine, EngineSpec
    from avatars.engine.training import _encode_photos

    pipeline = build_tiny_pipeline(family="sdxl")
    photos = photos_of("obama")[:2]

    def engine_of(dtype) -> Engine:
        # Built by hand: diffusers moves an fp16 pipeline back to fp32 on the CPU.
        return Engine(spec=EngineSpec(family="sdxl"), pipeline=pipeline, image_to_image=None, device="cpu",
                      dtype=dtype, label="test", resolution=64, is_tiny=True, load_seconds=0.0)

    with torch.no_grad():
        pipeline.vae.to(torch.float16).to(torch.float32)  # the fp16 weights, run in fp32
        reference_mean, reference_std = _encode_photos(engine_of(torch.float32), photos, resolution=64)
        pipeline.vae.to(torch.float16)
        pipeline.vae.register_to_config(force_upcast=True)
        seen_dtypes = []
        hook = pipeline.vae.encoder.register_forward_pre_hook(lambda _, args: seen_dtypes.append(args[0].dtype))
        mean, std = _encode_photos(engine_of(torch.float16), photos, resolution=64)
        hook.remove()

    assert seen_dtypes == [torch.float32, torch.float32]
    assert pipeline.vae.dtype == torch.float16
    assert torch.allclose(mean, reference_mean, atol=1e-6) and torch.allclose(std, reference_std, atol=1e-6)
