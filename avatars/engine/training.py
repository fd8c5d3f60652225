"""DreamBooth-LoRA training of an avatar on the engine's loaded base model.

Follows diffusers' examples/dreambooth/train_dreambooth_lora.py and, for SDXL,
train_dreambooth_lora_sdxl.py (no prior preservation): peft LoRAs on the UNet's attention
projections and, optionally, on the text encoders' (both of SDXL's), AdamW on the LoRA weights
alone under a warm-up schedule from diffusers' `get_scheduler`, the noise-prediction MSE loss
on latents noised by the training scheduler's `add_noise`, and the weights saved in the
diffusers LoRA format that the family's `load_lora_weights` reads. The families differ only
in what conditions the UNet on the caption (see `caption_conditioning`); the loop is one.

The recipe is the anchors' (the defaults below say which figure each comes from): training
is counted in samples, seen in optimizer steps of 4, each step one batch of 4 where memory
allows and gradient accumulation over smaller micro-batches where it does not. Every
`validate_every` samples the LoRA so far renders a few validation portraits, the caller's
`score` rates their likeness (validation.py), and the checkpoint rated highest is the one
saved; when nothing could be rated, the last one is.

Two departures, both because a single caption and ~20 photos are all there is: each
photo's latent distribution is encoded once and sampled every step, and with the text
encoders frozen the caption is encoded once; a trained text encoder encodes it again for
every micro-batch, with gradients.

The base modules are shared with rendering: training adds its adapters, and removes them
(and every training-only setting) before returning, even when it fails.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .pipeline import LORA_ADAPTER_NAME, Engine
from .validation import (
    VALIDATION_SEEDS,
    VALIDATION_STEPS,
    ValidationPoint,
    is_better,
    render_validation_images,
    validation_point,
    validation_size,
)

if TYPE_CHECKING:
    import PIL.Image
    import torch

LORA_TARGET_MODULES = ["to_k", "to_q", "to_v", "to_out.0"]
# The text encoders' attention projections, as diffusers' dreambooth LoRA scripts adapt them.
TEXT_ENCODER_LORA_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "out_proj"]
TEXT_ENCODER_NAMES = ("text_encoder", "text_encoder_2")

# The anchors. EasyPhoto (sd-webui-EasyPhoto, easyphoto_ui.py defaults): 800 steps of batch
# 1 x 4 accumulation = 3,200 samples for a set of 5-20 photos, rank 128 (alpha 64), learning
# rate 1e-4 constant, text encoder trained, validation every 100 steps. FaceChain
# (train_text_to_image_lora.py as facechain calls it): 200 epochs of batch 1, ~4,000
# samples for ~20 photos, UNet and text-encoder LoRA at rank 32, learning rate 1e-4 to 1.5e-4.
REFERENCE_PHOTOS = 20
SAMPLES_FOR_REFERENCE_SET = 3_200  # EasyPhoto's 800 x 4 for 20 photos: each photo seen 160 times
MAX_SAMPLES = 4_000  # FaceChain's ~4,000, the most either anchor trains one person for
BATCH_SIZE = 4  # EasyPhoto's effective batch (1 x 4 accumulation)
RANK = 32  # FaceChain's (EasyPhoto's 128 makes a file 4 times larger)
TEXT_ENCODER_RANK = 32  # FaceChain's lora_text_encoder_r; 0 trains the UNet alone
LEARNING_RATE = (
    1e-4  # EasyPhoto's, and FaceChain's lower figure; both anchors use it for the text encoder too
)
# Both anchors start at the full rate (warm-up 0; EasyPhoto constant, FaceChain cosine). A
# constant rate after a short ramp keeps EasyPhoto's schedule while sparing the first steps,
# taken before Adam's moment estimates settle, from the full rate.
LR_SCHEDULER = "constant_with_warmup"
WARMUP_FRACTION = 0.05
# The reference script's defaults.
ADAM_BETAS = (0.9, 0.999)
ADAM_WEIGHT_DECAY = 1e-2
ADAM_EPSILON = 1e-8
MAX_GRAD_NORM = 1.0
# Losses are averaged over this many last steps: one step's loss depends mostly on the
# timesteps it happened to draw.
FINAL_LOSS_WINDOW = 10
# Reading the loss makes the host wait for the device; once every this many steps lets the
# host queue the steps in between while the device runs.
LOSS_READ_EVERY = 10


@dataclass(frozen=True)
class TrainResult:
    """What training did. `curve` holds a point per validation; `chosen` is the point whose
    checkpoint was saved, None when no validation image had a face (or nothing was scored):
    then the last checkpoint was saved and the likeness was not measured."""

    lora_path: Path
    samples: int
    steps: int
    batch_size: int
    micro_batch_size: int
    gradient_checkpointing: bool
    final_loss: float
    seconds: float
    validation_seconds: float
    curve: tuple[ValidationPoint, ...]
    chosen: ValidationPoint | None

    @property
    def likeness_measured(self) -> bool:
        return self.chosen is not None

    @property
    def best_likeness(self) -> float | None:
        """The saved checkpoint's mean likeness: the highest on the curve."""
        return self.chosen.mean_likeness if self.chosen is not None else None


def instance_caption(identity_token: str, subject_class: str) -> str:
    return f"a photo of {identity_token} {subject_class}"


def training_samples_for(
    photo_count: int,
    *,
    samples_for_reference_set: int = SAMPLES_FOR_REFERENCE_SET,
    reference_photos: int = REFERENCE_PHOTOS,
    max_samples: int = MAX_SAMPLES,
) -> int:
    """How many samples to train `photo_count` photos for: each photo as often as in the
    anchors' 20-photo set, at most `max_samples`."""
    return max(1, min(round(samples_for_reference_set * photo_count / reference_photos), max_samples))


def train_lora(
    engine: Engine,
    images: Sequence["PIL.Image.Image"],
    *,
    identity_token: str,
    subject_class: str,
    output_path: str | Path,
    samples: int | None = None,
    batch_size: int = BATCH_SIZE,
    micro_batch_size: int | None = None,
    rank: int = RANK,
    learning_rate: float = LEARNING_RATE,
    text_encoder_rank: int = TEXT_ENCODER_RANK,
    text_encoder_learning_rate: float | None = None,
    lr_scheduler: str = LR_SCHEDULER,
    warmup_samples: int | None = None,
    validate_every: int = 0,
    score: Callable[["PIL.Image.Image"], float | None] | None = None,
    validation_seeds: Sequence[int] = VALIDATION_SEEDS,
    validation_steps: int = VALIDATION_STEPS,
    validation_resolution: int | None = None,
    seed: int = 0,
    resolution: int | None = None,
    gradient_checkpointing: bool | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    on_validation: Callable[[ValidationPoint], None] | None = None,
) -> TrainResult:
    """Train a LoRA of the person in `images` (already cropped around the face) and save it
    to `output_path` (.safetensors).

    - `samples` (None: `training_samples_for(len(images))`) is rounded up to whole optimizer
      steps of `batch_size`; `micro_batch_size` (None: the largest that fits in memory, from
      `batch_size` down) must divide it, the rest is gradient accumulation. The same samples
      are drawn whatever the micro-batch, so only memory and speed depend on it.
    - `text_encoder_rank` 0 trains the UNet alone; `text_encoder_learning_rate` defaults to
      `learning_rate`. `lr_scheduler` is a `diffusers.optimization.get_scheduler` name;
      `warmup_samples` defaults to 5% of the samples.
    - Every `validate_every` samples (0: never) and after the last step, the validation
      portraits (`validation_seeds`, `validation_steps`, `validation_resolution`, default 3/4
      of the engine's) are rendered and rated by `score`; without `score` the point records
      the loss only.
    - `gradient_checkpointing` None: off, unless the first step does not fit in memory at a
      micro-batch of 1 without it.
    - `progress(samples_seen, total_samples, loss)` is called after every micro-batch and
      every validation denoising step, with the mean loss as last read; `on_validation(point)`
      after each validation, so the caller can show the curve as it grows.

    The same seed, photos and arguments give the same weights on the CPU.
    """
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import cast_training_params

    if not images:
        raise ValueError("Training needs at least one photo")
    samples = training_samples_for(len(images)) if samples is None else samples
    if samples < 1 or batch_size < 1 or rank < 1 or text_encoder_rank < 0 or validate_every < 0:
        raise ValueError(
            "samples, batch_size and rank must be positive, text_encoder_rank and validate_every not negative"
        )
    if micro_batch_size is not None and (micro_batch_size < 1 or batch_size % micro_batch_size):
        raise ValueError(f"micro_batch_size must divide batch_size ({batch_size}), not {micro_batch_size}")

    started = time.perf_counter()
    output_path = Path(output_path)
    resolution = resolution or engine.resolution
    validation_resolution = validation_resolution or validation_size(engine)
    steps = math.ceil(samples / batch_size)
    total_samples = steps * batch_size
    if warmup_samples is None:
        warmup_samples = round(WARMUP_FRACTION * total_samples)
    on_gpu = engine.device.startswith("cuda")
    device = torch.device(engine.device)
    pipeline = engine.pipeline
    unet = pipeline.unet
    # Drawn where they are used: no host-to-device copy, no wait, in the loop.
    generator = torch.Generator(device=device).manual_seed(seed)
    caption = instance_caption(identity_token, subject_class)
    trains_text_encoders = text_encoder_rank > 0
    if text_encoder_learning_rate is None:
        text_encoder_learning_rate = learning_rate

    with engine.lock:
        engine.clear_lora()
        trained: dict = {}
        try:
            with torch.no_grad():
                latent_mean, latent_std = _encode_photos(engine, images, resolution=resolution)
            trained, configs = _add_adapters(
                pipeline,
                rank=rank,
                text_encoder_rank=text_encoder_rank,
                seed=seed,
                rng_devices=[device] if on_gpu else [],
            )
            # Frozen weights stay in bf16/fp16; the optimizer needs fp32 to register 1e-4 steps.
            cast_training_params(list(trained.values()), dtype=torch.float32)
            parameter_groups = [
                {
                    "params": [parameter for parameter in module.parameters() if parameter.requires_grad],
                    "lr": learning_rate if name == "unet" else text_encoder_learning_rate,
                }
                for name, module in trained.items()
            ]
            lora_parameters = [parameter for group in parameter_groups for parameter in group["params"]]
            optimizer = torch.optim.AdamW(
                parameter_groups, betas=ADAM_BETAS, weight_decay=ADAM_WEIGHT_DECAY, eps=ADAM_EPSILON
            )
            learning_rate_schedule = get_scheduler(
                lr_scheduler,
                optimizer=optimizer,
                num_warmup_steps=round(warmup_samples / batch_size),
                num_training_steps=steps,
            )
            # fp16 gradients underflow without loss scaling; bf16 and fp32 need none.
            scaler = torch.amp.GradScaler("cuda", enabled=on_gpu and engine.dtype == torch.float16)
            for module in trained.values():
                module.train()

            noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
            prediction_type = noise_scheduler.config.prediction_type
            scaling_factor = pipeline.vae.config.scaling_factor
            num_train_timesteps = noise_scheduler.config.num_train_timesteps
            recent_losses: deque = deque(maxlen=FINAL_LOSS_WINDOW)
            frozen_conditioning: dict[int, tuple] = {}
            reported_loss: float | None = None
            curve: list[ValidationPoint] = []
            chosen: ValidationPoint | None = None
            chosen_state: dict | None = None
            validation_seconds = 0.0

            def report(samples_seen: int, loss: "torch.Tensor | None" = None) -> None:
                nonlocal reported_loss
                if progress is None:
                    return
                if reported_loss is None and loss is not None:
                    reported_loss = float(loss)
                progress(
                    samples_seen, total_samples, reported_loss if reported_loss is not None else math.nan
                )

            def read_recent_loss() -> float:
                nonlocal reported_loss
                reported_loss = float(torch.stack(list(recent_losses)).mean())
                return reported_loss

            def conditioning(micro: int):
                if trains_text_encoders:
                    return caption_conditioning(engine, caption, resolution=resolution, batch_size=micro)
                if micro not in frozen_conditioning:
                    with torch.no_grad():
                        frozen_conditioning[micro] = caption_conditioning(
                            engine, caption, resolution=resolution, batch_size=micro
                        )
                return frozen_conditioning[micro]

            def draw_batch():
                """One optimizer step's photos, latent samples, noise and timesteps, drawn for
                the whole batch whatever the micro-batch, so accumulation sees the same."""
                indices = torch.randint(len(images), (batch_size,), generator=generator, device=device)
                latent_sample = torch.randn(
                    (batch_size, *latent_mean.shape[1:]), generator=generator, device=device
                )
                model_input = (latent_mean[indices] + latent_std[indices] * latent_sample) * scaling_factor
                noise = torch.randn(model_input.shape, generator=generator, device=device)
                timesteps = torch.randint(
                    num_train_timesteps, (batch_size,), generator=generator, device=device
                )
                noisy_input = noise_scheduler.add_noise(model_input, noise, timesteps)
                if prediction_type == "v_prediction":
                    target = noise_scheduler.get_velocity(model_input, noise, timesteps)
                else:
                    target = noise
                return noisy_input, timesteps, target

            def optimizer_step(step: int, batch, micro: int) -> "torch.Tensor":
                noisy_input, timesteps, target = batch
                accumulation = batch_size // micro
                step_loss = torch.zeros((), device=device)
                for chunk in range(accumulation):
                    part = slice(chunk * micro, (chunk + 1) * micro)
                    with torch.autocast(
                        device_type="cuda" if on_gpu else "cpu", dtype=engine.dtype, enabled=on_gpu
                    ):
                        prompt_embeds, added_conditions = conditioning(micro)
                        model_pred = unet(
                            noisy_input[part].to(engine.dtype),
                            timesteps[part],
                            prompt_embeds,
                            added_cond_kwargs=added_conditions,
                            return_dict=False,
                        )[0]
                    loss = F.mse_loss(model_pred.float(), target[part].float(), reduction="mean")
                    scaler.scale(loss / accumulation).backward()
                    step_loss += loss.detach() / accumulation
                    report((step - 1) * batch_size + (chunk + 1) * micro, loss.detach())
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(lora_parameters, MAX_GRAD_NORM)
                scaler.step(optimizer)
                scaler.update()
                learning_rate_schedule.step()
                optimizer.zero_grad(set_to_none=True)
                return step_loss

            def validate(samples_seen: int) -> None:
                nonlocal chosen, chosen_state, validation_seconds
                loss = read_recent_loss()
                if score is None:
                    curve.append(validation_point(samples=samples_seen, loss=loss, likenesses=[]))
                    if on_validation is not None:
                        on_validation(curve[-1])
                    return
                validation_started = time.perf_counter()
                for module in trained.values():
                    module.eval()
                try:
                    renders = render_validation_images(
                        engine,
                        identity_token=identity_token,
                        subject_class=subject_class,
                        seeds=validation_seeds,
                        steps=validation_steps,
                        size=validation_resolution,
                        on_step=lambda: report(samples_seen),
                    )
                finally:
                    for module in trained.values():
                        module.train()
                point = validation_point(
                    samples=samples_seen, loss=loss, likenesses=[score(render) for render in renders]
                )
                validation_seconds += time.perf_counter() - validation_started
                curve.append(point)
                if on_validation is not None:
                    on_validation(point)
                if is_better(point, chosen):
                    chosen, chosen_state = point, _adapter_state(trained)

            def first_step(batch) -> tuple[int, bool]:
                """Take the first step with the first (micro-batch, checkpointing) plan that fits
                in memory: the later steps need no more than the first, which also allocates
                the optimizer's state."""
                plans = _memory_plans(batch_size, micro_batch_size, gradient_checkpointing)
                for micro, checkpointing in plans[:-1]:
                    _set_gradient_checkpointing(unet, checkpointing)
                    try:
                        recent_losses.append(optimizer_step(1, batch, micro))
                        return micro, checkpointing
                    except torch.OutOfMemoryError:
                        pass
                    # Outside the except block, so the failed attempt's tensors are released.
                    optimizer.zero_grad(set_to_none=True)
                    if on_gpu:
                        torch.cuda.empty_cache()
                micro, checkpointing = plans[-1]
                _set_gradient_checkpointing(unet, checkpointing)
                recent_losses.append(optimizer_step(1, batch, micro))
                return micro, checkpointing

            for step in range(1, steps + 1):
                if step == 1:
                    micro, checkpointing = first_step(draw_batch())
                else:
                    recent_losses.append(optimizer_step(step, draw_batch(), micro))
                samples_seen = step * batch_size
                if validate_every and (
                    step == steps
                    or samples_seen // validate_every > (samples_seen - batch_size) // validate_every
                ):
                    validate(samples_seen)
                elif step % LOSS_READ_EVERY == 0:
                    read_recent_loss()

            final_loss = read_recent_loss()
            _save_lora(pipeline, chosen_state or _adapter_state(trained), configs, output_path)
        finally:
            if unet.is_gradient_checkpointing:
                unet.disable_gradient_checkpointing()
            for module in trained.values():
                module.eval()
            engine.clear_lora()
            if on_gpu:
                torch.cuda.empty_cache()

    return TrainResult(
        lora_path=output_path,
        samples=total_samples,
        steps=steps,
        batch_size=batch_size,
        micro_batch_size=micro,
        gradient_checkpointing=checkpointing,
        final_loss=final_loss,
        seconds=time.perf_counter() - started,
        validation_seconds=validation_seconds,
        curve=tuple(curve),
        chosen=chosen,
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
            pixels = (
                photo_tensor(image, resolution=resolution).unsqueeze(0).to(engine.device, dtype=vae.dtype)
            )
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


def _memory_plans(
    batch_size: int, micro_batch_size: int | None, gradient_checkpointing: bool | None
) -> list[tuple[int, bool]]:
    """The (micro-batch, gradient checkpointing) pairs to try, fastest first: the whole batch
    without checkpointing, then halved micro-batches (accumulation costs a little speed),
    then the same again with checkpointing (which costs a third more compute). A value the
    caller gave is kept in every plan."""
    if micro_batch_size is not None:
        micro_batches = [micro_batch_size]
    else:
        micro_batches = [batch_size]
        while micro_batches[-1] % 2 == 0:
            micro_batches.append(micro_batches[-1] // 2)
        if micro_batches[-1] != 1:
            micro_batches.append(1)
    checkpointing = [False, True] if gradient_checkpointing is None else [gradient_checkpointing]
    return [(micro, checkpoints) for checkpoints in checkpointing for micro in micro_batches]


def _set_gradient_checkpointing(unet, enabled: bool) -> None:
    if enabled and not unet.is_gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    elif not enabled and unet.is_gradient_checkpointing:
        unet.disable_gradient_checkpointing()


def _add_adapters(
    pipeline, *, rank: int, text_encoder_rank: int, seed: int, rng_devices: list
) -> tuple[dict, dict]:
    """Add the avatar's LoRA to the UNet and, with `text_encoder_rank`, to every text encoder
    the pipeline has; its random initial weights drawn from `seed` alone. Returns the modules
    trained and their LoRA configs, by pipeline component name."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    trained = {"unet": pipeline.unet}
    configs = {
        "unet": LoraConfig(
            r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=LORA_TARGET_MODULES
        )
    }
    if text_encoder_rank:
        for name in TEXT_ENCODER_NAMES:
            if getattr(pipeline, name, None) is not None:
                trained[name] = getattr(pipeline, name)
                configs[name] = LoraConfig(
                    r=text_encoder_rank,
                    lora_alpha=text_encoder_rank,
                    init_lora_weights="gaussian",
                    target_modules=TEXT_ENCODER_LORA_TARGET_MODULES,
                )
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)
        pipeline.unet.add_adapter(configs["unet"], adapter_name=LORA_ADAPTER_NAME)
        for name, module in trained.items():
            if name != "unet":
                # peft's own injection: transformers' add_adapter, which calls it, insists on
                # a peft newer than any released for the transformers installed.
                inject_adapter_in_model(configs[name], module, adapter_name=LORA_ADAPTER_NAME)
    return trained, configs


def _adapter_state(trained: dict) -> dict[str, dict[str, "torch.Tensor"]]:
    """A copy, on the CPU, of every trained module's LoRA weights, by component name."""
    from peft.utils import get_peft_model_state_dict

    return {
        name: {
            key: tensor.detach().to("cpu", copy=True)
            for key, tensor in get_peft_model_state_dict(module, adapter_name=LORA_ADAPTER_NAME).items()
        }
        for name, module in trained.items()
    }


def _save_lora(pipeline, state: dict, configs: dict, output_path: Path) -> None:
    """Write the adapters in `state` (by component name) into one file, where the family's
    `load_lora_weights` finds them; via a temporary name, so a job killed while saving never
    leaves half a file at `output_path`."""
    from diffusers.utils import convert_state_dict_to_diffusers

    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial_name = f".{output_path.name}.{os.getpid()}.partial.safetensors"
    # save_lora_weights names them unet_lora_layers, text_encoder_lora_layers and
    # text_encoder_2_lora_layers, with their metadata beside them.
    layers = {
        f"{name}_lora_layers": convert_state_dict_to_diffusers(weights) for name, weights in state.items()
    }
    metadata = {f"{name}_lora_adapter_metadata": configs[name].to_dict() for name in state}
    # The family's own pipeline class writes the LoRA format its `load_lora_weights` reads.
    type(pipeline).save_lora_weights(
        save_directory=output_path.parent,
        weight_name=partial_name,
        safe_serialization=True,
        **layers,
        **metadata,
    )
    os.replace(output_path.parent / partial_name, output_path)
