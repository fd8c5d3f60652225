"""FLUX.2 klein 4B (Black Forest Labs, Apache-2.0): a double- and single-stream transformer on
three of Qwen3-4B's hidden layers side by side, 32-channel latents folded into 2x2 patches
(128 channels) and normalised by the VAE's batch-norm statistics. Trained on its *Base*
checkpoint, which renders with guidance; the distilled checkpoint renders in 4 steps.

Follows diffusers' examples/dreambooth/train_dreambooth_lora_flux2_klein.py: latents are the
VAE mode patchified and normalised, the transformer reads them packed into a sequence with
position ids, and the timestep as t / 1000. diffusers has no image-to-image klein pipeline:
the passes redraw with the inpainting one under a mask of the whole image.
"""

from __future__ import annotations

from typing import Any

from .flow_matching import (
    FlowMatchingFamily,
    FlowMatchingObjective,
    build_tiny_qwen_tokenizer,
    tiny_qwen3_config,
)

TINY_TEXT_LAYERS = 3
# diffusers' own tiny klein (tests/pipelines/flux2/test_pipeline_flux2_klein.py), its joint
# width the three tiny text layers side by side, its VAE given two blocks (64 px -> 32 latent
# -> 16x16 patches) like the other tiny engines.
TINY_TRANSFORMER_CONFIG = {
    "patch_size": 1,
    "in_channels": 32,
    "num_layers": 1,
    "num_single_layers": 1,
    "attention_head_dim": 16,
    "num_attention_heads": 2,
    "joint_attention_dim": 3 * 16,
    "timestep_guidance_channels": 256,
    "axes_dims_rope": [4, 4, 4, 4],
    "guidance_embeds": False,
}
TINY_VAE_CONFIG = {
    "sample_size": 64,
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
    "latent_channels": 8,
    "norm_num_groups": 8,
}
# klein's scheduler_config.json: the shift follows the image's size.
SCHEDULER_CONFIG = {"num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": True}


def text_encoder_out_layers(text_encoder) -> tuple[int, ...]:
    """The hidden layers klein reads: at a quarter, half and three quarters of the encoder's
    depth, which for Qwen3-4B's 36 layers are the pipeline's default (9, 18, 27)."""
    depth = text_encoder.config.num_hidden_layers
    return (depth // 4, depth // 2, 3 * depth // 4)


class Flux2KleinObjective(FlowMatchingObjective):
    def __init__(self, pipeline, **kwargs):
        import torch

        super().__init__(pipeline, **kwargs)
        vae = pipeline.vae
        self.pipeline_class = type(pipeline)
        self.bn_mean = vae.bn.running_mean.view(1, -1, 1, 1).float()
        self.bn_std = torch.sqrt(vae.bn.running_var.view(1, -1, 1, 1).float() + vae.config.batch_norm_eps)

    def model_input(self, latent_mean, latent_std, sample):
        patches = self.pipeline_class._patchify_latents(latent_mean)
        return (patches - self.bn_mean.to(patches.device)) / self.bn_std.to(patches.device)

    def prediction(self, denoiser, noisy_input, timesteps, conditioning):
        prompt_embeds, text_ids = conditioning
        packed = self.pipeline_class._pack_latents(noisy_input).to(denoiser.dtype)
        latent_ids = self.pipeline_class._prepare_latent_ids(noisy_input).to(noisy_input.device)
        predicted = denoiser(
            hidden_states=packed,
            timestep=timesteps / 1000,
            guidance=None,
            encoder_hidden_states=prompt_embeds,
            txt_ids=text_ids,
            img_ids=latent_ids,
            return_dict=False,
        )[0]
        return self.pipeline_class._unpack_latents_with_ids(predicted[:, : packed.size(1)], latent_ids)


class Flux2Klein(FlowMatchingFamily):
    name = "flux2_klein"
    display_name = "FLUX.2 klein 4B"
    licence = "Apache-2.0"
    pipeline_class_name = "Flux2KleinPipeline"
    redraw_class_name = "Flux2KleinInpaintPipeline"
    redraw_is_inpainting = True
    denoiser_class_name = "Flux2Transformer2DModel"
    lora_scale_keyword = "attention_kwargs"
    default_resolution = 1024
    # The Base checkpoint's model card: 50 steps at guidance 4 (the pipeline's default).
    default_steps = 50
    default_guidance = 4.0
    default_output_long_side = 2048
    # The pipeline guides against an empty prompt; it takes no negative wording.
    takes_negative_prompt = False
    train_checkpoint = "black-forest-labs/FLUX.2-klein-base-4B"
    render_checkpoint = "black-forest-labs/FLUX.2-klein-4B"

    def lora_targets(self, denoiser) -> list[str]:
        """The reference script's: the double blocks' attention projections, the single blocks'
        fused projection and each single block's output."""
        singles = denoiser.config.num_single_layers
        return [
            *self.lora_target_modules,
            "to_qkv_mlp_proj",
            *[f"single_transformer_blocks.{index}.attn.to_out" for index in range(singles)],
        ]

    def pipeline_kwargs(self, pipeline) -> dict[str, Any]:
        return {"text_encoder_out_layers": text_encoder_out_layers(pipeline.text_encoder)}

    def build_tiny_pipeline(self, seed: int):
        import torch
        from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
        from transformers import Qwen3ForCausalLM

        tokenizer = build_tiny_qwen_tokenizer()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            transformer = Flux2Transformer2DModel(**TINY_TRANSFORMER_CONFIG)
            vae = AutoencoderKLFlux2(**TINY_VAE_CONFIG)
            text_encoder = Qwen3ForCausalLM(tiny_qwen3_config(tokenizer, layers=TINY_TEXT_LAYERS))
        return self.pipeline_class()(
            scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
        )

    def caption_conditioning(self, pipeline, caption, *, device, dtype, resolution, batch_size):
        """The caption's hidden states and their position ids."""
        prompt_embeds, text_ids = pipeline.encode_prompt(
            prompt=caption, device=device, num_images_per_prompt=batch_size, **self.pipeline_kwargs(pipeline)
        )
        return prompt_embeds.to(dtype), text_ids

    def training_objective(self, pipeline) -> Flux2KleinObjective:
        return Flux2KleinObjective(pipeline)

    def recognises_checkpoint(self, shapes: dict[str, Any]) -> bool:
        """The single-stream blocks' shared modulation, FLUX.2's alone: in Black Forest Labs'
        layout (diffusers' own marker) or in diffusers'."""
        from diffusers.loaders.single_file_utils import CHECKPOINT_KEY_NAMES

        markers = (*CHECKPOINT_KEY_NAMES["flux2"], "single_stream_modulation.linear.weight")
        return any(name in shapes for name in markers)


FLUX2_KLEIN = Flux2Klein()


# The full-size architecture, for the bench's random-weight model: klein 4B's transformer
# (diffusers' scripts/convert_flux2_to_diffusers.py, "klein-4b"); the VAE is
# AutoencoderKLFlux2's defaults.
FULL_SIZE_TRANSFORMER_CONFIG = {
    "patch_size": 1,
    "in_channels": 128,
    "num_layers": 5,
    "num_single_layers": 20,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 7680,
    "timestep_guidance_channels": 256,
    "mlp_ratio": 3.0,
    "axes_dims_rope": (32, 32, 32, 32),
    "rope_theta": 2000,
    "eps": 1e-6,
    "guidance_embeds": False,
}
