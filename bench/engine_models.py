"""The full-size pipelines bench/engine.py --full measures: each family's architecture from its published configs, random weights."""

from __future__ import annotations

from avatars.engine.base_model import shipped_config
from avatars.engine.families import family
from avatars.engine.families.flow_matching import QWEN3_4B_CONFIG, build_tiny_qwen_tokenizer
from avatars.engine.families.sd15 import TRAINING_NOISE_SCHEDULE, build_tiny_clip_tokenizer


def import_diffusers() -> None:
    import diffusers  # noqa: F401
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline  # noqa: F401
    from transformers import CLIPTextModel  # noqa: F401


def build_full_size_sd15_pipeline(device: str):
    """Stable Diffusion 1.5's architecture (860M-parameter UNet, KL VAE, CLIP ViT-L/14 text
    encoder) from its published configs (the engine's shipped ones), random weights, built
    directly on `device`."""
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device(device):
        unet = UNet2DConditionModel.from_config(shipped_config("sd15", "unet"))
        vae = AutoencoderKL.from_config(shipped_config("sd15", "vae"))
        text_encoder = CLIPTextModel(CLIPTextConfig.from_dict(shipped_config("sd15", "text_encoder")))
    return family("sd15").pipeline_from_modules(
        unet=unet,
        vae=vae,
        text_encoders=[text_encoder],
        # Any CLIP tokenizer will do for timing; the tiny engine's is built in no time.
        tokenizer=build_tiny_clip_tokenizer(),
        scheduler=DDPMScheduler(**TRAINING_NOISE_SCHEDULE),
    )


def build_full_size_sdxl_pipeline(device: str):
    """SDXL base 1.0's architecture (2.6B-parameter UNet, KL VAE, CLIP ViT-L/14 and OpenCLIP
    ViT-bigG/14 text encoders) from its published configs (the engine's shipped ones), random
    weights, built directly on `device`."""
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with torch.device(device):
        unet = UNet2DConditionModel.from_config(shipped_config("sdxl", "unet"))
        vae = AutoencoderKL.from_config(shipped_config("sdxl", "vae"))
        text_encoders = [
            CLIPTextModel(CLIPTextConfig.from_dict(shipped_config("sdxl", "text_encoder"))),
            CLIPTextModelWithProjection(CLIPTextConfig.from_dict(shipped_config("sdxl", "text_encoder_2"))),
        ]
    return family("sdxl").pipeline_from_modules(
        unet=unet,
        vae=vae,
        text_encoders=text_encoders,
        tokenizer=build_tiny_clip_tokenizer(),
        scheduler=DDPMScheduler(**TRAINING_NOISE_SCHEDULE),
    )


def build_full_size_zimage_pipeline(device: str):
    """Z-Image's architecture (6B transformer, FLUX.1's 16-channel VAE, Qwen3-4B) from configs
    in code, random weights, built on `device`. The tokenizer is the tiny engine's (one token
    per byte, inside the real vocabulary): for timing, a longer caption than the real one's."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    from avatars.engine.families.zimage import FULL_SIZE_VAE_CONFIG, SCHEDULER_CONFIG

    with torch.device(device):
        transformer = ZImageTransformer2DModel()
        vae = AutoencoderKL(**FULL_SIZE_VAE_CONFIG)
        text_encoder = Qwen3Model(Qwen3Config(**QWEN3_4B_CONFIG))
    return family("zimage").pipeline_class()(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_tiny_qwen_tokenizer(),
        transformer=transformer,
    )


def build_full_size_flux2_klein_pipeline(device: str):
    """FLUX.2 klein 4B's architecture (4B transformer, its 32-channel VAE, Qwen3-4B) from
    configs in code, random weights, built on `device`."""
    import torch
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from avatars.engine.families.flux2_klein import FULL_SIZE_TRANSFORMER_CONFIG, SCHEDULER_CONFIG

    with torch.device(device):
        transformer = Flux2Transformer2DModel(**FULL_SIZE_TRANSFORMER_CONFIG)
        vae = AutoencoderKLFlux2()
        text_encoder = Qwen3ForCausalLM(Qwen3Config(**QWEN3_4B_CONFIG))
    return family("flux2_klein").pipeline_class()(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_tiny_qwen_tokenizer(),
        transformer=transformer,
    )


FULL_SIZE = {
    # family: (builder, resolution, name)
    "sd15": (build_full_size_sd15_pipeline, 512, "SD 1.5"),
    "sdxl": (build_full_size_sdxl_pipeline, 1024, "SDXL"),
    "zimage": (build_full_size_zimage_pipeline, 1024, "Z-Image"),
    "flux2_klein": (build_full_size_flux2_klein_pipeline, 1024, "FLUX.2 klein 4B"),
}
