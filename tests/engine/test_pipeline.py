"""The loaded base model: built once per process, the tiny engine reproducible from its seed."""

import subprocess
import sys
import time

import pytest

from avatars.engine.pipeline import (
    TINY_LABEL,
    EngineSpec,
    build_tiny_pipeline,
    clear_engine_cache,
    get_engine,
)


def test_the_engine_is_loaded_once_and_then_reused(tiny_engine):
    spec = EngineSpec(base_model="tiny", device="cpu")
    clear_engine_cache()

    started = time.perf_counter()
    cold = get_engine(spec)
    cold_seconds = time.perf_counter() - started
    started = time.perf_counter()
    warm = get_engine(spec)
    warm_seconds = time.perf_counter() - started

    assert warm is cold
    assert cold is not tiny_engine
    assert warm_seconds * 10 <= cold_seconds
    assert get_engine(EngineSpec(base_model="tiny", device="cpu", resolution=32)) is not cold


def test_the_tiny_engine_describes_itself(tiny_engine):
    import torch

    assert tiny_engine.label == TINY_LABEL == "tiny engine: not a real model"
    assert tiny_engine.is_tiny
    assert tiny_engine.resolution == 64
    assert tiny_engine.device == "cpu"
    assert tiny_engine.dtype == torch.float32
    assert type(tiny_engine.pipeline).__name__ == "StableDiffusionPipeline"
    assert type(tiny_engine.image_to_image).__name__ == "StableDiffusionImg2ImgPipeline"
    # The image-to-image pipeline shares the loaded modules: one copy of the weights, one LoRA.
    assert tiny_engine.image_to_image.unet is tiny_engine.pipeline.unet
    assert tiny_engine.image_to_image.vae is tiny_engine.pipeline.vae
    assert not any(parameter.requires_grad for parameter in tiny_engine.pipeline.unet.parameters())


def test_the_tiny_pipeline_is_the_same_for_the_same_seed_and_leaves_the_global_rng_alone():
    import torch

    state = torch.get_rng_state()
    first, second, other = build_tiny_pipeline(seed=0), build_tiny_pipeline(seed=0), build_tiny_pipeline(seed=1)
    assert torch.equal(torch.get_rng_state(), state)

    for name in ("unet", "vae", "text_encoder"):
        first_weights = getattr(first, name).state_dict()
        second_weights = getattr(second, name).state_dict()
        assert all(torch.equal(first_weights[key], second_weights[key]) for key in first_weights)
    assert not torch.equal(first.unet.conv_in.weight, other.unet.conv_in.weight)


def test_the_tiny_tokenizer_reads_any_prompt():
    tokenizer = build_tiny_pipeline().tokenizer
    prompt = "a photo of sks woman, 微笑!"
    ids = tokenizer(prompt, padding="max_length", max_length=77).input_ids
    assert len(ids) == 77
    assert ids[0] == tokenizer.bos_token_id
    # One token per UTF-8 byte: nothing fell back to the unknown token (which is end-of-text).
    assert ids.index(tokenizer.eos_token_id) - 1 == len(prompt.replace(" ", "").encode())


def test_unknown_families_and_a_tiny_sdxl_are_refused():
    with pytest.raises(ValueError, match="family"):
        get_engine(EngineSpec(family="sd3"))
    with pytest.raises(ValueError, match="sd15"):
        get_engine(EngineSpec(base_model="tiny", family="sdxl", device="cpu"))


def test_the_engine_modules_import_without_torch():
    code = (
        "import sys\n"
        "import avatars.engine.pipeline, avatars.engine.training, avatars.engine.rendering, avatars.engine.beauty\n"
        "loaded = sorted(name for name in ('torch', 'diffusers', 'django') if name in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
