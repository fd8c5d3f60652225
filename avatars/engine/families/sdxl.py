"""SDXL (2023): SD 1.5's UNet objective with two CLIP text encoders side by side, the second
one's pooled output and six size-and-crop numbers added to the UNet's time embedding."""

from __future__ import annotations

from typing import Any

from .sd15 import TINY_TEXT_WIDTH, TINY_UNET_CONFIG, StableDiffusion15, tiny_clip_text_config

# SDXL's second encoder is wider than its first (1280 against 768), and diffusers' single-file
# loader tells the two apart by that width: so is the tiny one's.
TINY_SDXL_SECOND_TEXT_WIDTH = 48
# Each of the six size-and-crop ids is embedded in this many dimensions. The SDXL-only settings
# are those of diffusers' own tiny SDXL (tests/pipelines/stable_diffusion_xl).
TINY_SDXL_TIME_EMBED_DIM = 8
SDXL_TIME_IDS = 6


class StableDiffusionXL(StableDiffusion15):
    name = "sdxl"
    display_name = "SDXL"
    licence = "CreativeML OpenRAIL++-M"
    pipeline_class_name = "StableDiffusionXLPipeline"
    redraw_class_name = "StableDiffusionXLImg2ImgPipeline"
    text_encoder_names = ("text_encoder", "text_encoder_2")
    default_resolution = 1024
    default_output_long_side = 2048
    train_checkpoint = "stabilityai/stable-diffusion-xl-base-1.0"
    render_checkpoint = train_checkpoint

    def tiny_unet_config(self) -> dict[str, Any]:
        return {
            **TINY_UNET_CONFIG,
            # Both text encoders' hidden states side by side.
            "cross_attention_dim": TINY_TEXT_WIDTH + TINY_SDXL_SECOND_TEXT_WIDTH,
            "use_linear_projection": True,
            "transformer_layers_per_block": (1, 2),
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": TINY_SDXL_TIME_EMBED_DIM,
            "projection_class_embeddings_input_dim": (
                SDXL_TIME_IDS * TINY_SDXL_TIME_EMBED_DIM + TINY_SDXL_SECOND_TEXT_WIDTH
            ),
        }

    def tiny_text_encoders(self, tokenizer) -> list:
        from transformers import CLIPTextModel, CLIPTextModelWithProjection

        return [
            CLIPTextModel(tiny_clip_text_config(tokenizer, TINY_TEXT_WIDTH)),
            CLIPTextModelWithProjection(tiny_clip_text_config(tokenizer, TINY_SDXL_SECOND_TEXT_WIDTH)),
        ]

    def pipeline_from_modules(self, *, unet, vae, text_encoders: list, tokenizer, scheduler):
        text_encoder, text_encoder_2 = text_encoders
        return self.pipeline_class()(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
        )

    def caption_conditioning(self, pipeline, caption, *, device, dtype, resolution, batch_size):
        """The prompt embeddings, and the UNet's added conditions: the caption's pooled
        embedding and the size-and-crop ids every render uses (an uncropped picture of the size
        it makes), so the person is learnt under the condition they will be rendered in."""
        import torch

        prompt_embeds, _, pooled_prompt_embeds, _ = pipeline.encode_prompt(
            prompt=caption, device=device, num_images_per_prompt=batch_size, do_classifier_free_guidance=False
        )
        original_size = target_size = (resolution, resolution)
        time_ids = torch.tensor([original_size + (0, 0) + target_size] * batch_size, dtype=dtype, device=device)
        return prompt_embeds, {"text_embeds": pooled_prompt_embeds, "time_ids": time_ids}

    def recognises_checkpoint(self, shapes) -> bool:
        from diffusers.loaders.single_file_utils import CHECKPOINT_KEY_NAMES

        return CHECKPOINT_KEY_NAMES["clip_sdxl"] in shapes and CHECKPOINT_KEY_NAMES["open_clip_sdxl"] in shapes

    def without_safety_checker(self) -> dict[str, Any]:
        return {}


SDXL = StableDiffusionXL()
