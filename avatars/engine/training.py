"""DreamBooth-LoRA training of an avatar on the engine's loaded base model.

Follows diffusers' examples/dreambooth/train_dreambooth_lora.py and, for SDXL,
train_dreambooth_lora_sdxl.py (UNet only, no prior preservation): a peft LoRA on the UNet's
attention projections, AdamW on the LoRA weights alone, the noise-prediction MSE loss on
latents noised by the training scheduler's `add_noise`, and the weights saved in the
diffusers LoRA format that the family's `load_lora_weights` reads. The families differ only
in what conditions the UNet on the caption (see `caption_conditioning`); the loop is one.
Two departures, both because a single caption and ~20 photos are all there is:
the caption is encoded once, and each photo's latent distribution is encoded once and
sampled every step, so the VAE and text encoder run ~20 times instead of once per step.

The base modules are shared with rendering: training adds its adapter, and removes it
(and every training-only setting) before returning, even when it fails.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .pipeline import LORA_ADAPTER_NAME, Engine

if TYPE_CHECKING:
    import PIL.Image
    import torch

LORA_TARGET_MODULES = ["to_k", "to_q", "to_v", "to_out.0"]
# The reference script's defaults.
ADAM_BETAS = (0.9, 0.999)
ADAM_WEIGHT_DECAY = 1e-2
ADAM_EPSILON = 1e-8
MAX_GRAD_NORM = 1.0
# final_loss is averaged over this many last steps: one step's loss depends mostly on the
# timestep it happened to draw.
FINAL_LOSS_WINDOW = 10


@dataclass(frozen=True)
class TrainResult:
    lora_path: Path
    steps: int
    final_loss: float
    seconds: float


def instance_caption(identity_token: str, subject_class: str) -> str:
    return f"a photo of {identity_token} {subject_class}"


def train_lora(
    engine: Engine,
    images: Sequence["PIL.Image.Image"],
    *,
    identity_token: str,
    subject_class: str,
    output_path: str | Path,
    rank: int = 16,
    steps: int = 400,
    learning_rate: float = 1e-4,
    seed: int = 0,
    batch_size: int = 1,
    resolution: int | None = None,
    gradient_checkpointing: bool | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    progress_every: int = 10,
) -> TrainResult:
    """Train a LoRA of the person in `images` (already cropped around the face) and save it
    to `output_path` (.safetensors).

    `resolution` defaults to the engine's; `gradient_checkpointing` (None) is on for a GPU,
    where it keeps SD 1.5 at 512 px well inside 12 GB, and off on the CPU. `progress` gets
    (step, steps, loss) every `progress_every` steps and after the last one. The same seed,
    photos and engine give the same weights on the CPU.
    """
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler
    from diffusers.training_utils import cast_training_params
    from peft import LoraConfig

    if not images:
        raise ValueError("Training needs at least one photo")
    if steps < 1 or batch_size < 1 or rank < 1:
        raise ValueError("steps, batch_size and rank must be positive")

    started = time.perf_counter()
    output_path = Path(output_path)
    resolution = resolution or engine.resolution
    on_gpu = engine.device.startswith("cuda")
    if gradient_checkpointing is None:
        gradient_checkpointing = on_gpu
    pipeline = engine.pipeline
    unet = pipeline.unet
    generator = torch.Generator(device="cpu").manual_seed(seed)

    with engine.lock:
        engine.clear_lora()
        try:
            with torch.no_grad():
                latent_mean, latent_std = _encode_photos(engine, images, resolution=resolution)
                prompt_embeds, added_conditions = caption_conditioning(
                    engine,
                    instance_caption(identity_token, subject_class),
                    resolution=resolution,
                    batch_size=batch_size,
                )

            lora_config = LoraConfig(
                r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=LORA_TARGET_MODULES
            )
            rng_devices = [torch.device(engine.device)] if on_gpu else []
            with torch.random.fork_rng(devices=rng_devices):
                torch.manual_seed(seed)
                unet.add_adapter(lora_config, adapter_name=LORA_ADAPTER_NAME)
            # Frozen weights stay in bf16/fp16; the optimizer needs fp32 to register 1e-4 steps.
            cast_training_params(unet, dtype=torch.float32)
            lora_parameters = [parameter for parameter in unet.parameters() if parameter.requires_grad]
            optimizer = torch.optim.AdamW(
                lora_parameters,
                lr=learning_rate,
                betas=ADAM_BETAS,
                weight_decay=ADAM_WEIGHT_DECAY,
                eps=ADAM_EPSILON,
            )
            # fp16 gradients underflow without loss scaling; bf16 and fp32 need none.
            scaler = torch.amp.GradScaler("cuda", enabled=on_gpu and engine.dtype == torch.float16)
            if gradient_checkpointing:
                unet.enable_gradient_checkpointing()
            unet.train()

            noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
            prediction_type = noise_scheduler.config.prediction_type
            scaling_factor = pipeline.vae.config.scaling_factor
            num_train_timesteps = noise_scheduler.config.num_train_timesteps
            recent_losses: deque = deque(maxlen=FINAL_LOSS_WINDOW)

            for step in range(1, steps + 1):
                indices = torch.randint(len(images), (batch_size,), generator=generator)
                sample = torch.randn(latent_mean[indices].shape, generator=generator)
                model_input = (latent_mean[indices] + latent_std[indices] * sample.to(engine.device)) * scaling_factor
                noise = torch.randn(model_input.shape, generator=generator).to(engine.device)
                timesteps = torch.randint(num_train_timesteps, (batch_size,), generator=generator).to(engine.device)
                noisy_input = noise_scheduler.add_noise(model_input, noise, timesteps)

                with torch.autocast(device_type="cuda" if on_gpu else "cpu", dtype=engine.dtype, enabled=on_gpu):
                    model_pred = unet(
                        noisy_input.to(engine.dtype),
                        timesteps,
                        prompt_embeds,
                        added_cond_kwargs=added_conditions,
                        return_dict=False,
                    )[0]
                if prediction_type == "v_prediction":
                    target = noise_scheduler.get_velocity(model_input, noise, timesteps)
                else:
                    target = noise
                loss = F.mse_loss(model_pred.float(), target.float(), reduction="mean")
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(lora_parameters, MAX_GRAD_NORM)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                recent_losses.append(loss.detach())

                if progress is not None and (step % progress_every == 0 or step == steps):
                    progress(step, steps, float(loss.detach()))

            final_loss = float(torch.stack(list(recent_losses)).mean())
            _save_lora(pipeline, output_path)
        finally:
            if gradient_checkpointing:
                unet.disable_gradient_checkpointing()
            unet.eval()
            engine.clear_lora()
            if on_gpu:
                torch.cuda.empty_cache()

    return TrainResult(
        lora_path=output_path, steps=steps, final_loss=final_loss, seconds=time.perf_counter() - started
    )


def photo_tensor(image: "PIL.Image.Image", *, resolution: int) -> "torch.Tensor":
    """The photo as the model sees it: RGB, shorter side scaled to `resolution`, centre
    square cropped, values in [-1, 1], shape (3, resolution, resolution)."""
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    square = ImageOps.fit(image.convert("RGB"), (resolution, resolution), method=Image.Resampling.LANCZOS)
    array = np.asarray(square, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


def _encode_photos(engine: Engine, images, *, resolution: int) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Each photo's latent mean and standard deviation (fp32), one photo at a time so 60
    photos at full size never sit on the GPU together."""
    import torch

    vae = engine.pipeline.vae
    loaded_dtype = vae.dtype
    # SDXL's VAE overflows in fp16 (its config says force_upcast): encode in fp32, as the
    # pipelines decode, and hand it back in the dtype it was loaded in.
    upcast = loaded_dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    if upcast:
        vae.to(torch.float32)
    try:
        means, stds = [], []
        for image in images:
            pixels = photo_tensor(image, resolution=resolution).unsqueeze(0).to(engine.device, dtype=vae.dtype)
            distribution = vae.encode(pixels).latent_dist
            means.append(distribution.mean.float())
            stds.append(distribution.std.float())
    finally:
        if upcast:
            vae.to(loaded_dtype)
    return torch.cat(means), torch.cat(stds)


def caption_conditioning(
    engine: Engine, caption: str, *, resolution: int, batch_size: int
) -> tuple["torch.Tensor", dict[str, "torch.Tensor"] | None]:
    """What the UNet is conditioned on for `caption`, `batch_size` times over: the prompt
    embeddings from the pipeline's own `encode_prompt` (as rendering computes them), and for
    SDXL the UNet's added conditions as well, the caption's pooled embedding and the time ids.
    """
    import torch

    encoded = engine.pipeline.encode_prompt(
        prompt=caption,
        device=engine.device,
        num_images_per_prompt=batch_size,
        do_classifier_free_guidance=False,
    )
    if engine.family != "sdxl":
        prompt_embeds, _ = encoded
        return prompt_embeds, None
    prompt_embeds, _, pooled_prompt_embeds, _ = encoded
    # The size-and-crop conditioning every render uses (an uncropped picture of the size it
    # makes), so the person is learnt under the condition they will be rendered in.
    original_size = target_size = (resolution, resolution)
    crops_coords_top_left = (0, 0)
    time_ids = torch.tensor(
        [original_size + crops_coords_top_left + target_size] * batch_size,
        dtype=engine.dtype,
        device=engine.device,
    )
    return prompt_embeds, {"text_embeds": pooled_prompt_embeds, "time_ids": time_ids}


def _save_lora(pipeline, output_path: Path) -> None:
    """Write the adapter where `load_lora_weights` finds it; via a temporary name, so a job
    killed while saving never leaves half a file at `output_path`."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial_name = f".{output_path.name}.{os.getpid()}.partial.safetensors"
    unet = pipeline.unet
    state_dict = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=LORA_ADAPTER_NAME))
    # The family's own pipeline class writes the LoRA format its `load_lora_weights` reads.
    type(pipeline).save_lora_weights(
        save_directory=output_path.parent,
        unet_lora_layers=state_dict,
        weight_name=partial_name,
        safe_serialization=True,
        unet_lora_adapter_metadata=unet.peft_config[LORA_ADAPTER_NAME].to_dict(),
    )
    os.replace(output_path.parent / partial_name, output_path)
