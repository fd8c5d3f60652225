"""Z-Image (Tongyi-MAI, Apache-2.0): a 6B single-stream transformer on Qwen3-4B's
second-to-last hidden states, 16-channel latents of FLUX.1's VAE layout. Trained on
*Z-Image Base*; *Z-Image Turbo*, of the same architecture, renders in 8 steps.

Follows diffusers' examples/dreambooth/train_dreambooth_lora_z_image.py: latents are the VAE
mode shifted and scaled, the transformer reads a list of (C, 1, H, W) latents and the
timestep as (1000 - t) / 1000, and its output is the negated velocity.
"""

from __future__ import annotations

from typing import Any

from .flow_matching import (
    FlowMatchingFamily,
    FlowMatchingObjective,
    build_tiny_qwen_tokenizer,
    tiny_qwen3_config,
)

# diffusers' own tiny Z-Image (tests/pipelines/z_image/test_z_image.py), its VAE given two
# blocks (8 px -> 1 latent would be 4 blocks) so the tiny engine renders 64 px like the others.
TINY_TRANSFORMER_CONFIG = {
    "all_patch_size": (2,),
    "all_f_patch_size": (1,),
    "in_channels": 16,
    "dim": 32,
    "n_layers": 2,
    "n_refiner_layers": 1,
    "n_heads": 2,
    "n_kv_heads": 2,
    "norm_eps": 1e-5,
    "qk_norm": True,
    "cap_feat_dim": 16,
    "rope_theta": 256.0,
    "t_scale": 1000.0,
    "axes_dims": [8, 4, 4],
    "axes_lens": [256, 32, 32],
}
TINY_VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
    "latent_channels": 16,
    "norm_num_groups": 8,
    "sample_size": 64,
    "scaling_factor": 0.3611,
    "shift_factor": 0.1159,
}
# Z-Image's scheduler_config.json: a static shift of 3.
SCHEDULER_CONFIG = {"num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": False}


class ZImageObjective(FlowMatchingObjective):
    def __init__(self, pipeline, **kwargs):
        super().__init__(pipeline, **kwargs)
        self.shift_factor = pipeline.vae.config.shift_factor
        self.scaling_factor = pipeline.vae.config.scaling_factor

    def model_input(self, latent_mean, latent_std, sample):
        # The reference encodes the distribution's mode (its mean), not a sample.
        return (latent_mean - self.shift_factor) * self.scaling_factor

    def prediction(self, denoiser, noisy_input, timesteps, conditioning):
        import torch

        prompt_embeds = conditioning
        frames = list(noisy_input.to(denoiser.dtype).unsqueeze(2).unbind(dim=0))
        predicted = denoiser(frames, (1000 - timesteps) / 1000, prompt_embeds, return_dict=False)[0]
        # Z-Image's transformer predicts the negated velocity.
        return -torch.stack(predicted, dim=0).squeeze(2)


class ZImage(FlowMatchingFamily):
    name = "zimage"
    display_name = "Z-Image"
    licence = "Apache-2.0"
    pipeline_class_name = "ZImagePipeline"
    redraw_class_name = "ZImageImg2ImgPipeline"
    denoiser_class_name = "ZImageTransformer2DModel"
    lora_scale_keyword = "joint_attention_kwargs"
    default_resolution = 1024
    # Z-Image Base's model card: 28-50 steps at guidance 3-5; the reference README renders at 5.
    default_steps = 28
    default_guidance = 5.0
    default_output_long_side = 2048
    takes_negative_prompt = True
    train_checkpoint = "Tongyi-MAI/Z-Image"
    render_checkpoint = "Tongyi-MAI/Z-Image-Turbo"

    def build_tiny_pipeline(self, seed: int):
        import torch
        from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImageTransformer2DModel
        from transformers import Qwen3Model

        tokenizer = build_tiny_qwen_tokenizer()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            transformer = ZImageTransformer2DModel(**TINY_TRANSFORMER_CONFIG)
            # Made with torch.empty: whatever memory held, NaN included (diffusers' tests fix them too).
            with torch.no_grad():
                transformer.x_pad_token.fill_(1.0)
                transformer.cap_pad_token.fill_(1.0)
            vae = AutoencoderKL(**TINY_VAE_CONFIG)
            text_encoder = Qwen3Model(tiny_qwen3_config(tokenizer, layers=2))
        return self.pipeline_class()(
            scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
        )

    def caption_conditioning(self, pipeline, caption, *, device, dtype, resolution, batch_size):
        """A list of the caption's hidden states (its real tokens only), one per sample."""
        prompt_embeds, _ = pipeline.encode_prompt(prompt=caption, device=device, do_classifier_free_guidance=False)
        return [embeds.to(dtype) for embeds in prompt_embeds for _ in range(batch_size)]

    def training_objective(self, pipeline) -> ZImageObjective:
        return ZImageObjective(pipeline)

    def recognises_checkpoint(self, shapes: dict[str, Any]) -> bool:
        # The caption refiner and the caption embedder are Z-Image's alone, in its original
        # layout and in diffusers'.
        return any(name.startswith(("context_refiner.", "cap_embedder.")) for name in shapes)


ZIMAGE = ZImage()


# The full-size architecture, for the bench's random-weight model: the transformer is
# ZImageTransformer2DModel's defaults (Z-Image's 6B), the VAE FLUX.1's 16-channel KL VAE.
FULL_SIZE_VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 16,
    "norm_num_groups": 32,
    "sample_size": 1024,
    "scaling_factor": 0.3611,
    "shift_factor": 0.1159,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
    "force_upcast": True,
}
