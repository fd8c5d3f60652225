"""The loaded base model: built once per process, the tiny engine reproducible from its seed."""

import subprocess
import sys
import time

import numpy as np
import pytest

from avatars.engine.pipeline import (
    TINY_LABEL,
    EngineSpec,
    build_tiny_pipeline,
    clear_engine_cache,
    get_engine,
)
from avatars.engine.rendering import render


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
    # The tiny engine's family, unless asked for, is SD 1.5's.
    assert get_engine(EngineSpec(base_model="tiny", family="sd15", device="cpu")) is cold
    assert cold.family == "sd15"


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


def test_the_tiny_sdxl_engine_is_shaped_like_sdxl(tiny_sdxl_engine):
    pipeline = tiny_sdxl_engine.pipeline
    unet_config = pipeline.unet.config
    first_width = pipeline.text_encoder.config.hidden_size
    second_width = pipeline.text_encoder_2.config.hidden_size
    pooled_width = pipeline.text_encoder_2.config.projection_dim

    assert tiny_sdxl_engine.label == TINY_LABEL
    assert tiny_sdxl_engine.is_tiny
    assert (tiny_sdxl_engine.family, tiny_sdxl_engine.resolution) == ("sdxl", 64)
    assert type(pipeline).__name__ == "StableDiffusionXLPipeline"
    assert type(tiny_sdxl_engine.image_to_image).__name__ == "StableDiffusionXLImg2ImgPipeline"
    assert type(pipeline.text_encoder_2).__name__ == "CLIPTextModelWithProjection"
    assert tiny_sdxl_engine.image_to_image.text_encoder_2 is pipeline.text_encoder_2
    assert unet_config.addition_embed_type == "text_time"
    assert unet_config.cross_attention_dim == first_width + second_width
    # Six size-and-crop numbers, each embedded, then the second encoder's pooled caption.
    time_ids_width = 6 * unet_config.addition_time_embed_dim
    assert unet_config.projection_class_embeddings_input_dim == time_ids_width + pooled_width
    assert not any(parameter.requires_grad for parameter in pipeline.text_encoder_2.parameters())


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_the_tiny_pipeline_is_the_same_for_the_same_seed_and_leaves_the_global_rng_alone(family):
    import torch

    state = torch.get_rng_state()
    first = build_tiny_pipeline(seed=0, family=family)
    second = build_tiny_pipeline(seed=0, family=family)
    other = build_tiny_pipeline(seed=1, family=family)
    assert torch.equal(torch.get_rng_state(), state)

    assert len(_weights(first)) == (4 if family == "sdxl" else 3)
    assert _same_weights(first, second)
    assert not torch.equal(first.unet.conv_in.weight, other.unet.conv_in.weight)


def test_the_tiny_tokenizer_reads_any_prompt():
    tokenizer = build_tiny_pipeline().tokenizer
    prompt = "a photo of sks woman, 微笑!"
    ids = tokenizer(prompt, padding="max_length", max_length=77).input_ids
    assert len(ids) == 77
    assert ids[0] == tokenizer.bos_token_id
    # One token per UTF-8 byte: nothing fell back to the unknown token (which is end-of-text).
    assert ids.index(tokenizer.eos_token_id) - 1 == len(prompt.replace(" ", "").encode())


def test_unknown_families_are_refused():
    with pytest.raises(ValueError, match="family"):
        get_engine(EngineSpec(family="sd3"))


def test_a_saved_pipeline_loads_from_its_folder_like_a_real_checkpoint_and_renders(family_engine, tmp_path):
    family = family_engine.family
    folder = tmp_path / f"tiny-{family}"
    saved = build_tiny_pipeline(seed=0, family=family)
    saved.save_pretrained(folder)

    # No family given: model_index.json says which.
    loaded = get_engine(EngineSpec(base_model=str(folder), device="cpu", resolution=64))
    portrait = render(loaded, lora_path=None, identity_token="sks", subject_class="man", prompt="", steps=2)

    assert loaded.family == family
    assert not loaded.is_tiny
    assert loaded.label == str(folder)
    assert type(loaded.pipeline) is type(family_engine.pipeline)
    assert type(loaded.image_to_image) is type(family_engine.image_to_image)
    # Against what was saved, not the shared engine: other tests leave an avatar's LoRA in it.
    assert _same_weights(loaded.pipeline, saved)
    assert portrait.image.size == (64, 64)
    assert portrait.parameters["family"] == family
    assert np.asarray(portrait.image).std() > 0


def _weights(pipeline) -> dict:
    names = ("unet", "vae", "text_encoder", "text_encoder_2")
    modules = {name: getattr(pipeline, name, None) for name in names}
    return {name: module.state_dict() for name, module in modules.items() if module is not None}


def _same_weights(first, second) -> bool:
    import torch

    first_weights, second_weights = _weights(first), _weights(second)
    return first_weights.keys() == second_weights.keys() and all(
        torch.equal(tensor, second_weights[name][key])
        for name, module_weights in first_weights.items()
        for key, tensor in module_weights.items()
    )


def test_the_engine_modules_import_without_torch():
    code = (
        "import sys\n"
        "import avatars.engine.pipeline, avatars.engine.training, avatars.engine.rendering, avatars.engine.beauty\n"
        "loaded = sorted(name for name in ('torch', 'diffusers', 'django') if name in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_model_check_tells_a_render_model_that_fits_the_training_model_from_one_that_does_not():
    import torch

    from avatars.engine.model_check import render_model_problem
    from avatars.engine.pipeline import engine_from_pipeline

    def engine(family: str, seed: int):
        return engine_from_pipeline(
            build_tiny_pipeline(seed=seed, family=family),
            spec=EngineSpec(family=family, device="cpu"),
            device="cpu",
            dtype=torch.float32,
            label=f"{family} {seed}",
            is_tiny=True,
        )

    base, turbo = engine("zimage", 0), engine("zimage", 1)
    assert render_model_problem(base, turbo) is None
    other_family = render_model_problem(base, engine("flux2_klein", 0))
    assert other_family is not None and "loads only into its own architecture" in str(other_family)
    wider = build_tiny_pipeline(seed=0, family="sd15")
    from diffusers import UNet2DConditionModel

    wider.unet = UNet2DConditionModel.from_config({**wider.unet.config, "block_out_channels": (32, 32)})
    other_size = render_model_problem(
        engine("sd15", 0),
        engine_from_pipeline(wider, spec=EngineSpec(family="sd15"), device="cpu", dtype=torch.float32, label="wider"),
    )
    assert other_size is not None and "block_out_channels" in str(other_size)
