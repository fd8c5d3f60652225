"""Stable Diffusion 1.5 (2022): a UNet conditioned on one CLIP text encoder's hidden states,
trained to predict noise (or velocity) under DDPM's schedule, rendered with DPM-Solver++.

The tiny engine shaped like it: 64 px images, 32 px latents, small configs in code with random
weights, a CLIP tokenizer made in memory. The shipped configs (model_configs/sd15) describe a
single-file checkpoint.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

from .base import ModelFamily, NoisedBatch, TrainingObjective

CLIP_MAX_TOKENS = 77
# The tiny engine's shapes, the same whichever SD family it is shaped like. Attention only at
# 16x16 latents: at 32x32 it would be most of the cost.
TINY_UNET_CONFIG = {
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": (32, 64),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    "attention_head_dim": 4,
    "norm_num_groups": 8,
}
TINY_VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 8,
    "sample_size": 64,
}
TINY_TEXT_WIDTH = 32
# The noise schedule SD 1.5 and SDXL were trained with; rendering swaps in a faster sampler from it.
TRAINING_NOISE_SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}
# The text encoders' attention projections, as diffusers' dreambooth LoRA scripts adapt them.
CLIP_LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "out_proj")


def build_tiny_clip_tokenizer():
    """A CLIP tokenizer whose vocabulary is the 256 byte-level symbols (each also as a word
    end) and no merges: every prompt tokenizes, one symbol per token, with no files."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    alphabet = sorted(ByteLevel.alphabet())
    for symbol in alphabet + [symbol + "</w>" for symbol in alphabet]:
        vocab.setdefault(symbol, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=CLIP_MAX_TOKENS)


def tiny_clip_text_config(tokenizer, width: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=CLIP_MAX_TOKENS,
        projection_dim=width,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


class NoisePrediction(TrainingObjective):
    """diffusers' train_dreambooth_lora.py: a latent sampled from the VAE's distribution,
    DDPM's `add_noise` at a uniform timestep, the noise (or, for a v-prediction model, the
    velocity) as the target, every sample weighted 1."""

    def __init__(self, pipeline):
        from diffusers import DDPMScheduler

        self.scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
        self.scaling_factor = pipeline.vae.config.scaling_factor

    def model_input(self, latent_mean, latent_std, sample):
        return (latent_mean + latent_std * sample) * self.scaling_factor

    def noised(self, model_input, generator):
        import torch

        noise = torch.randn(model_input.shape, generator=generator, device=model_input.device)
        timesteps = torch.randint(
            self.scheduler.config.num_train_timesteps,
            (model_input.shape[0],),
            generator=generator,
            device=model_input.device,
        )
        noisy_input = self.scheduler.add_noise(model_input, noise, timesteps)
        if self.scheduler.config.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(model_input, noise, timesteps)
        else:
            target = noise
        return NoisedBatch(noisy_input, timesteps, target, torch.ones((), device=model_input.device))

    def prediction(self, denoiser, noisy_input, timesteps, conditioning):
        prompt_embeds, added_conditions = conditioning
        return denoiser(
            noisy_input.to(denoiser.dtype),
            timesteps,
            prompt_embeds,
            added_cond_kwargs=added_conditions,
            return_dict=False,
        )[0]


class StableDiffusion15(ModelFamily):
    name = "sd15"
    display_name = "Stable Diffusion 1.5"
    licence = "CreativeML OpenRAIL-M"
    pipeline_class_name = "StableDiffusionPipeline"
    redraw_class_name = "StableDiffusionImg2ImgPipeline"
    denoiser_name = "unet"
    denoiser_class_name = "UNet2DConditionModel"
    text_encoder_lora_target_modules = CLIP_LORA_TARGET_MODULES
    lora_scale_keyword = "cross_attention_kwargs"
    converts_lora_state = True
    size_multiple = 8
    default_resolution = 512
    default_steps = 25
    default_guidance = 7.0
    # Twice the native resolution, as for every family.
    default_output_long_side = 1024
    prompt_token_limit = CLIP_MAX_TOKENS
    takes_negative_prompt = True
    train_checkpoint = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    render_checkpoint = train_checkpoint

    def ready_for_jobs(self, pipeline) -> None:
        from diffusers import DPMSolverMultistepScheduler
        from diffusers.models.attention_processor import AttnProcessor2_0

        # DPM-Solver++ gives a finished portrait in ~25 steps where the checkpoints' own PNDM needs 50.
        pipeline.scheduler = DPMSolverMultistepScheduler.from_config(pipeline.scheduler.config)
        pipeline.unet.set_attn_processor(AttnProcessor2_0())
        pipeline.vae.set_attn_processor(AttnProcessor2_0())

    def tiny_unet_config(self) -> dict[str, Any]:
        return {**TINY_UNET_CONFIG, "cross_attention_dim": TINY_TEXT_WIDTH}

    def tiny_text_encoders(self, tokenizer) -> list:
        from transformers import CLIPTextModel

        return [CLIPTextModel(tiny_clip_text_config(tokenizer, TINY_TEXT_WIDTH))]

    def build_tiny_pipeline(self, seed: int):
        """64 px images, 32 px latents; a full render or training step takes milliseconds on a
        CPU. The same seed always builds the same weights, without touching the global RNG."""
        import torch
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

        tokenizer = build_tiny_clip_tokenizer()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            unet = UNet2DConditionModel(**self.tiny_unet_config())
            vae = AutoencoderKL(**TINY_VAE_CONFIG)
            text_encoders = self.tiny_text_encoders(tokenizer)
        return self.pipeline_from_modules(
            unet=unet,
            vae=vae,
            text_encoders=text_encoders,
            tokenizer=tokenizer,
            scheduler=DDPMScheduler(**TRAINING_NOISE_SCHEDULE),
        )

    def pipeline_from_modules(self, *, unet, vae, text_encoders: list, tokenizer, scheduler):
        """The pipeline around modules built in code (the tiny engine, the bench's full-size models)."""
        (text_encoder,) = text_encoders
        return self.pipeline_class()(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            **self.without_safety_checker(),
        )

    def caption_conditioning(self, pipeline, caption, *, device, dtype, resolution, batch_size):
        prompt_embeds, _ = pipeline.encode_prompt(
            prompt=caption, device=device, num_images_per_prompt=batch_size, do_classifier_free_guidance=False
        )
        return prompt_embeds, None

    def training_objective(self, pipeline) -> TrainingObjective:
        return NoisePrediction(pipeline)

    def recognises_checkpoint(self, shapes) -> bool:
        from diffusers.loaders.single_file_utils import CHECKPOINT_KEY_NAMES

        return CHECKPOINT_KEY_NAMES["clip"] in shapes

    def without_safety_checker(self) -> dict[str, Any]:
        # Nudity is judged by the engine's own safety check on every portrait, not by the
        # checkpoint's classifier, which would black out images instead of reporting them.
        return {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}

    def prompt_tokenizer(self, base_model: str):
        return _clip_prompt_tokenizer(base_model)


# OpenAI CLIP's BPE merges, shipped with the model configs, so CLIP's tokenizer needs no download.
CLIP_BPE_MERGES = Path(__file__).resolve().parent.parent / "model_configs" / "clip_bpe_merges.txt.gz"
CLIP_SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")


def clip_tokenizer(*, pad_token: str = "<|endoftext|>"):
    """OpenAI CLIP's tokenizer (SD 1.5's, and both of SDXL's), from the shipped BPE merges.

    CLIP's vocabulary is derived from its merges: the 256 byte symbols, each again as a word
    end, one token per merge, then the two special tokens (49408 in all).
    """
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    with gzip.open(CLIP_BPE_MERGES, "rt", encoding="utf-8") as lines:
        merges = [tuple(line.split()) for line in lines if line.strip()]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [symbol + "</w>" for symbol in symbols] + ["".join(merge) for merge in merges]
    vocab = {token: index for index, token in enumerate([*tokens, *CLIP_SPECIAL_TOKENS])}
    return CLIPTokenizer(vocab=vocab, merges=merges, pad_token=pad_token, model_max_length=77)


@functools.lru_cache(maxsize=4)
def _clip_prompt_tokenizer(base_model: str):
    """A template is written for the real models, so on the tiny engine prompts are counted
    with CLIP's own tokenizer, rebuilt from the BPE merges shipped with the model configs."""
    from transformers import CLIPTokenizer

    if base_model == "tiny":
        return clip_tokenizer()
    return CLIPTokenizer.from_pretrained(base_model, subfolder="tokenizer", local_files_only=True)


SD15 = StableDiffusion15()
