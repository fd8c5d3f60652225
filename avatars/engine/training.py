"""DreamBooth-LoRA training of an avatar on the engine's loaded base model.

Follows diffusers' examples/dreambooth/train_dreambooth_lora.py (SD 1.5), _sdxl.py,
_z_image.py and _flux2_klein.py (no prior preservation): peft LoRAs on the denoiser's
attention projections (the family's `lora_targets`) and, where the family trains it,
on the text encoders', AdamW on the LoRA weights alone under a warm-up schedule from
diffusers' `get_scheduler`, the family's training objective (noise prediction under DDPM for
SD, flow matching for the transformers: families/), and the weights saved in the diffusers
LoRA format that the family's `load_lora_weights` reads. The loop is one (`LoraTrainer`);
the family says what differs.

The recipe is the anchors' (the defaults below say which figure each comes from): training
is counted in samples, seen in optimizer steps of 4, each step one batch of 4 where memory
allows and gradient accumulation over smaller micro-batches where it does not. Every
`validate_every` samples the LoRA so far renders a few validation portraits, the caller's
`score` rates their likeness (validation.py), and the checkpoint rated highest is the one
saved; when nothing could be rated, the last one is.

Two departures, both because a single caption and ~20 photos are all there is: each
photo's latent distribution is encoded once (and sampled every step, where the family's
objective samples it), and with the text encoders frozen the caption is encoded once; a
trained text encoder encodes it again for every micro-batch, with gradients. On a GPU the
frozen text encoders and the VAE leave it while the steps run (they come back for each
validation), which is most of the memory a 4B-parameter language model takes.

The base modules are shared with rendering: training adds its adapters, and removes them
(and every training-only setting) before returning, even when it fails.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .families import NoisedBatch
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
    # The engine the validation portraits were rendered with (the render model, when set).
    validated_with: str = ""

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


# "adamw8bit" keeps Adam's two moments in 8 bits (bitsandbytes): 6 bytes less per trained
# weight, which matters only at ranks and models far above an avatar's LoRA.
OPTIMIZERS = ("adamw", "adamw8bit")


@dataclass(frozen=True)
class TrainingBatch:
    """One optimizer step's samples, drawn for the whole batch whatever the micro-batch, so
    accumulation sees the same: the noised latents, timesteps, targets and loss weights."""

    noised: NoisedBatch

    def part(self, chunk: slice) -> NoisedBatch:
        weighting = self.noised.weighting
        return NoisedBatch(
            self.noised.noisy_input[chunk],
            self.noised.timesteps[chunk],
            self.noised.target[chunk],
            weighting[chunk] if weighting.ndim else weighting,
        )


@dataclass(frozen=True)
class TrainingSettings:
    """How one avatar is trained, said once for train_lora and LoraTrainer (the defaults are the anchors').

    - `samples` (None: `training_samples_for(len(images))`) is rounded up to whole optimizer
      steps of `batch_size`; `micro_batch_size` (None: the largest that fits in memory, from
      `batch_size` down) must divide it, the rest is gradient accumulation. The same samples
      are drawn whatever the micro-batch, so only memory and speed depend on it.
    - `text_encoder_rank` 0 trains the denoiser alone (a family that trains no text encoder
      ignores it); `text_encoder_learning_rate` defaults to `learning_rate`. `lr_scheduler`
      is a `diffusers.optimization.get_scheduler` name; `warmup_samples` defaults to 5%.
    - Every `validate_every` samples (0: never) and after the last step, the validation
      portraits (`validation_seeds`, `validation_steps`, `validation_resolution`, default 3/4
      of the engine's) are rendered and rated by `score`; without `score` the point records
      the loss only. `validation_engine` (default `engine`) renders them: the render model,
      of the same architecture, with the LoRA as trained so far loaded into it.
    - `gradient_checkpointing` None: off, unless the first step does not fit in memory at a
      micro-batch of 1 without it. `optimizer`: one of OPTIMIZERS.
    - `progress(samples_seen, total_samples, loss)` is called after every micro-batch and
      every validation denoising step, with the mean loss as last read; `on_validation(point)`
      after each validation, so the caller can show the curve as it grows.
    """

    samples: int | None = None
    batch_size: int = BATCH_SIZE
    micro_batch_size: int | None = None
    rank: int = RANK
    learning_rate: float = LEARNING_RATE
    text_encoder_rank: int = TEXT_ENCODER_RANK
    text_encoder_learning_rate: float | None = None
    lr_scheduler: str = LR_SCHEDULER
    warmup_samples: int | None = None
    validate_every: int = 0
    score: Callable[["PIL.Image.Image"], float | None] | None = None
    validation_seeds: Sequence[int] = VALIDATION_SEEDS
    validation_steps: int = VALIDATION_STEPS
    validation_resolution: int | None = None
    validation_engine: Engine | None = None
    seed: int = 0
    resolution: int | None = None
    gradient_checkpointing: bool | None = None
    optimizer: str = "adamw"
    progress: Callable[[int, int, float], None] | None = None
    on_validation: Callable[[ValidationPoint], None] | None = None


def train_lora(
    engine: Engine,
    images: Sequence["PIL.Image.Image"],
    *,
    identity_token: str,
    subject_class: str,
    output_path: str | Path,
    **settings,
) -> TrainResult:
    """Train a LoRA of the person in `images` (already cropped around the face) and save it
    to `output_path` (.safetensors). `settings` are TrainingSettings' fields, by keyword.

    The same seed, photos and settings give the same weights on the CPU.
    """
    trainer = LoraTrainer(
        engine,
        images,
        caption=instance_caption(identity_token, subject_class),
        identity=(identity_token, subject_class),
        settings=TrainingSettings(**settings),
    )
    return trainer.run(Path(output_path))


class LoraTrainer:
    """One avatar's training, in steps a test can take one at a time: `prepare` (latents,
    caption, adapters, optimizer), `draw_batch`, `take_step`, `validate`, `choose_checkpoint`,
    `save`, and `release` (the base modules as they were). `run` does them all, under the
    engine's lock. `settings` say how (TrainingSettings)."""

    def __init__(
        self,
        engine: Engine,
        images: Sequence["PIL.Image.Image"],
        *,
        caption: str,
        identity: tuple[str, str],
        settings: TrainingSettings = TrainingSettings(),
    ) -> None:
        import torch

        if not images:
            raise ValueError("Training needs at least one photo")
        samples = training_samples_for(len(images)) if settings.samples is None else settings.samples
        batch_size, micro_batch_size = settings.batch_size, settings.micro_batch_size
        if (
            samples < 1 or batch_size < 1 or settings.rank < 1
            or settings.text_encoder_rank < 0 or settings.validate_every < 0
        ):
            raise ValueError(
                "samples, batch_size and rank must be positive, text_encoder_rank and validate_every not negative"
            )
        if micro_batch_size is not None and (micro_batch_size < 1 or batch_size % micro_batch_size):
            raise ValueError(f"micro_batch_size must divide batch_size ({batch_size}), not {micro_batch_size}")
        if settings.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {settings.optimizer!r}")
        if settings.validation_engine is not None and settings.validation_engine.family != engine.family:
            raise ValueError(
                f"The validation engine is {settings.validation_engine.family}, the training engine {engine.family}: "
                "a LoRA loads only into its own architecture"
            )
        self.engine = engine
        self.family = engine.model_family
        self.images = images
        self.caption = caption
        self.identity = identity
        self.batch_size = settings.batch_size
        self.micro_batch_size = settings.micro_batch_size
        self.rank = settings.rank
        self.learning_rate = settings.learning_rate
        # A family whose text encoder stays frozen (the transformers') trains the denoiser alone.
        self.text_encoder_rank = settings.text_encoder_rank if self.family.text_encoder_lora_target_modules else 0
        self.text_encoder_learning_rate = settings.text_encoder_learning_rate or settings.learning_rate
        self.lr_scheduler = settings.lr_scheduler
        self.validate_every = settings.validate_every
        self.score = settings.score
        self.validation_seeds = settings.validation_seeds
        self.validation_steps = settings.validation_steps
        self.validation_engine = settings.validation_engine
        self.validation_resolution = settings.validation_resolution or validation_size(
            settings.validation_engine or engine
        )
        self.seed = settings.seed
        self.resolution = settings.resolution or engine.resolution
        self.gradient_checkpointing = settings.gradient_checkpointing
        self.optimizer_name = settings.optimizer
        self.progress = settings.progress
        self.on_validation = settings.on_validation

        self.steps = math.ceil(samples / settings.batch_size)
        self.total_samples = self.steps * settings.batch_size
        self.warmup_samples = (
            round(WARMUP_FRACTION * self.total_samples) if settings.warmup_samples is None else settings.warmup_samples
        )
        self.on_gpu = engine.device.startswith("cuda")
        self.device = torch.device(engine.device)
        self.denoiser = engine.denoiser
        # Drawn where they are used: no host-to-device copy, no wait, in the loop.
        self.generator = torch.Generator(device=self.device).manual_seed(settings.seed)
        self.trained: dict = {}
        self.configs: dict = {}
        self.recent_losses: deque = deque(maxlen=FINAL_LOSS_WINDOW)
        self.frozen_conditioning: dict[int, object] = {}
        self.reported_loss: float | None = None
        self.curve: list[ValidationPoint] = []
        self.chosen: ValidationPoint | None = None
        self.chosen_state: dict | None = None
        self.validation_seconds = 0.0
        self.micro: int | None = settings.micro_batch_size
        self.checkpointing = bool(settings.gradient_checkpointing)

    # --- The whole run -----------------------------------------------------------------------

    def run(self, output_path: Path) -> TrainResult:
        started = time.perf_counter()
        with self.engine.lock:
            try:
                self.prepare()
                with self.frozen_modules_off_device():
                    for step in range(1, self.steps + 1):
                        batch = self.draw_batch()
                        if step == 1:
                            self.recent_losses.append(self.first_step(batch))
                        else:
                            self.recent_losses.append(self.take_step(step, batch, self.micro))
                        samples_seen = step * self.batch_size
                        if self.validate_every and (
                            step == self.steps
                            or samples_seen // self.validate_every
                            > (samples_seen - self.batch_size) // self.validate_every
                        ):
                            with self.frozen_modules_on_device():
                                self.choose_checkpoint(self.validate(samples_seen))
                        elif step % LOSS_READ_EVERY == 0:
                            self.read_recent_loss()
                final_loss = self.read_recent_loss()
                self.save(output_path)
            finally:
                self.release()
        return TrainResult(
            lora_path=output_path,
            samples=self.total_samples,
            steps=self.steps,
            batch_size=self.batch_size,
            micro_batch_size=self.micro,
            gradient_checkpointing=self.checkpointing,
            final_loss=final_loss,
            seconds=time.perf_counter() - started,
            validation_seconds=self.validation_seconds,
            curve=tuple(self.curve),
            chosen=self.chosen,
            validated_with=(self.validation_engine or self.engine).label,
        )

    # --- Preparing ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Encode the photos and (with a frozen encoder) the caption once, add the adapters,
        and make the optimizer and its schedule."""
        import torch
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import cast_training_params

        engine = self.engine
        engine.clear_lora()
        if self.validation_engine is not None and self.validation_engine is not engine:
            self.validation_engine.clear_lora()
        with torch.no_grad():
            self.latent_mean, self.latent_std = _encode_photos(engine, self.images, resolution=self.resolution)
            if not self.text_encoder_rank:
                for micro, _ in _memory_plans(self.batch_size, self.micro_batch_size, self.gradient_checkpointing):
                    if micro not in self.frozen_conditioning:
                        self.frozen_conditioning[micro] = self.encode_caption(micro)
        self.objective = self.family.training_objective(engine.pipeline)
        self.trained, self.configs = _add_adapters(
            engine,
            rank=self.rank,
            text_encoder_rank=self.text_encoder_rank,
            seed=self.seed,
            rng_devices=[self.device] if self.on_gpu else [],
        )
        # Frozen weights stay in bf16/fp16; the optimizer needs fp32 to register 1e-4 steps.
        cast_training_params(list(self.trained.values()), dtype=torch.float32)
        denoiser_name = self.family.denoiser_name
        parameter_groups = [
            {
                "params": [parameter for parameter in module.parameters() if parameter.requires_grad],
                "lr": self.learning_rate if name == denoiser_name else self.text_encoder_learning_rate,
            }
            for name, module in self.trained.items()
        ]
        self.lora_parameters = [parameter for group in parameter_groups for parameter in group["params"]]
        self.optimizer = _optimizer(self.optimizer_name, parameter_groups)
        self.learning_rate_schedule = get_scheduler(
            self.lr_scheduler,
            optimizer=self.optimizer,
            num_warmup_steps=round(self.warmup_samples / self.batch_size),
            num_training_steps=self.steps,
        )
        # fp16 gradients underflow without loss scaling; bf16 and fp32 need none.
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.on_gpu and engine.dtype == torch.float16)
        for module in self.trained.values():
            module.train()

    def encode_caption(self, micro: int):
        engine = self.engine
        return self.family.caption_conditioning(
            engine.pipeline,
            self.caption,
            device=engine.device,
            dtype=engine.dtype,
            resolution=self.resolution,
            batch_size=micro,
        )

    def conditioning(self, micro: int):
        if self.text_encoder_rank:
            return self.encode_caption(micro)
        return self.frozen_conditioning[micro]

    @contextmanager
    def frozen_modules_off_device(self) -> Iterator[None]:
        """On a GPU, the VAE and the frozen text encoders on the CPU while the steps run (the
        latents and the caption are encoded already); as they were afterwards."""
        names = ["vae"]
        if not self.text_encoder_rank:
            names += list(self.family.text_encoder_names)
        self.offloaded = [getattr(self.engine.pipeline, name) for name in names] if self.on_gpu else []
        for module in self.offloaded:
            module.to("cpu")
        try:
            yield
        finally:
            for module in self.offloaded:
                module.to(self.device)
            self.offloaded = []

    @contextmanager
    def frozen_modules_on_device(self) -> Iterator[None]:
        """The offloaded modules back on the GPU for a validation, and off again after it."""
        for module in self.offloaded:
            module.to(self.device)
        try:
            yield
        finally:
            for module in self.offloaded:
                module.to("cpu")

    # --- Steps -------------------------------------------------------------------------------

    def draw_batch(self) -> TrainingBatch:
        """One optimizer step's photos, latent samples, noise and timesteps."""
        import torch

        indices = torch.randint(len(self.images), (self.batch_size,), generator=self.generator, device=self.device)
        latent_sample = torch.randn(
            (self.batch_size, *self.latent_mean.shape[1:]), generator=self.generator, device=self.device
        )
        model_input = self.objective.model_input(
            self.latent_mean[indices], self.latent_std[indices], latent_sample
        )
        return TrainingBatch(self.objective.noised(model_input, self.generator))

    def take_step(self, step: int, batch: TrainingBatch, micro: int) -> "torch.Tensor":
        """One optimizer step over `batch`, in micro-batches of `micro`; returns its mean loss."""
        import torch

        accumulation = self.batch_size // micro
        step_loss = torch.zeros((), device=self.device)
        for chunk in range(accumulation):
            part = batch.part(slice(chunk * micro, (chunk + 1) * micro))
            with torch.autocast(
                device_type="cuda" if self.on_gpu else "cpu", dtype=self.engine.dtype, enabled=self.on_gpu
            ):
                prediction = self.objective.prediction(
                    self.denoiser, part.noisy_input, part.timesteps, self.conditioning(micro)
                )
            loss = self.objective.loss(prediction, part.target, part.weighting)
            self.scaler.scale(loss / accumulation).backward()
            step_loss += loss.detach() / accumulation
            self.report((step - 1) * self.batch_size + (chunk + 1) * micro, loss.detach())
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.lora_parameters, MAX_GRAD_NORM)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.learning_rate_schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        return step_loss

    def first_step(self, batch: TrainingBatch) -> "torch.Tensor":
        """The first step with the first (micro-batch, checkpointing) plan that fits in memory:
        the later steps need no more than the first, which also allocates the optimizer's state."""
        import torch

        plans = _memory_plans(self.batch_size, self.micro_batch_size, self.gradient_checkpointing)
        for micro, checkpointing in plans[:-1]:
            _set_gradient_checkpointing(self.denoiser, checkpointing)
            try:
                loss = self.take_step(1, batch, micro)
                self.micro, self.checkpointing = micro, checkpointing
                return loss
            except torch.OutOfMemoryError:
                pass
            # Outside the except block, so the failed attempt's tensors are released.
            self.optimizer.zero_grad(set_to_none=True)
            if self.on_gpu:
                torch.cuda.empty_cache()
        self.micro, self.checkpointing = plans[-1]
        _set_gradient_checkpointing(self.denoiser, self.checkpointing)
        return self.take_step(1, batch, self.micro)

    # --- Validation and the checkpoint kept --------------------------------------------------

    def validate(self, samples_seen: int) -> ValidationPoint:
        """Render the validation portraits with the LoRA as trained so far (in the validation
        engine, when there is one) and rate them; the point joins the curve."""
        loss = self.read_recent_loss()
        if self.score is None:
            point = validation_point(samples=samples_seen, loss=loss, likenesses=[])
        else:
            started = time.perf_counter()
            for module in self.trained.values():
                module.eval()
            try:
                renders = self.render_validation(samples_seen)
            finally:
                for module in self.trained.values():
                    module.train()
            point = validation_point(
                samples=samples_seen, loss=loss, likenesses=[self.score(render) for render in renders]
            )
            self.validation_seconds += time.perf_counter() - started
        self.curve.append(point)
        if self.on_validation is not None:
            self.on_validation(point)
        return point

    def render_validation(self, samples_seen: int) -> list["PIL.Image.Image"]:
        identity_token, subject_class = self.identity
        arguments = {
            "identity_token": identity_token,
            "subject_class": subject_class,
            "seeds": self.validation_seeds,
            "steps": self.validation_steps,
            "size": self.validation_resolution,
            "on_step": lambda: self.report(samples_seen),
        }
        if self.validation_engine is None or self.validation_engine is self.engine:
            return render_validation_images(self.engine, **arguments)
        # The render model: the LoRA so far, written out and loaded as a job will load it.
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"validation-{samples_seen}.safetensors"
            _save_lora(
                self.engine.pipeline, _adapter_state(self.trained), self.configs, path, engine_family=self.family
            )
            with self.validation_engine.lock:
                self.validation_engine.use_lora(path)
                try:
                    return render_validation_images(self.validation_engine, **arguments)
                finally:
                    self.validation_engine.clear_lora()

    def choose_checkpoint(self, point: ValidationPoint) -> bool:
        """Keep the adapters as they are now when `point` resembles the person more than the
        checkpoint kept so far; whether it did."""
        if not is_better(point, self.chosen):
            return False
        self.chosen, self.chosen_state = point, _adapter_state(self.trained)
        return True

    # --- Ending ------------------------------------------------------------------------------

    def save(self, output_path: Path) -> None:
        """The chosen checkpoint, or the last one when nothing was rated."""
        _save_lora(
            self.engine.pipeline,
            self.chosen_state or _adapter_state(self.trained),
            self.configs,
            output_path,
            engine_family=self.family,
        )

    def release(self) -> None:
        """Every adapter and training-only setting removed: the base modules as loaded."""
        import torch

        if self.denoiser.is_gradient_checkpointing:
            self.denoiser.disable_gradient_checkpointing()
        for module in self.trained.values():
            module.eval()
        self.engine.clear_lora()
        if self.on_gpu:
            torch.cuda.empty_cache()

    def report(self, samples_seen: int, loss: "torch.Tensor | None" = None) -> None:
        if self.progress is None:
            return
        if self.reported_loss is None and loss is not None:
            self.reported_loss = float(loss)
        self.progress(
            samples_seen, self.total_samples, self.reported_loss if self.reported_loss is not None else math.nan
        )

    def read_recent_loss(self) -> float:
        import torch

        self.reported_loss = float(torch.stack(list(self.recent_losses)).mean())
        return self.reported_loss


def _optimizer(name: str, parameter_groups: list[dict]):
    import torch

    if name == "adamw8bit":
        try:
            import bitsandbytes
        except ImportError as error:
            raise ValueError(
                "The 8-bit optimizer needs bitsandbytes, which is not installed: pip install bitsandbytes "
                "on the GPU worker, or set LIKENESS_TRAINING_OPTIMIZER=adamw."
            ) from error
        optimizer_class = bitsandbytes.optim.AdamW8bit
    else:
        optimizer_class = torch.optim.AdamW
    return optimizer_class(parameter_groups, betas=ADAM_BETAS, weight_decay=ADAM_WEIGHT_DECAY, eps=ADAM_EPSILON)


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
    photos at full size never sit on the GPU together: the family's objective makes the
    denoiser's input of them (a sample, or the mode, shifted, scaled or patchified)."""
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


def _set_gradient_checkpointing(denoiser, enabled: bool) -> None:
    if enabled and not denoiser.is_gradient_checkpointing:
        denoiser.enable_gradient_checkpointing()
    elif not enabled and denoiser.is_gradient_checkpointing:
        denoiser.disable_gradient_checkpointing()


def _add_adapters(
    engine: Engine, *, rank: int, text_encoder_rank: int, seed: int, rng_devices: list
) -> tuple[dict, dict]:
    """Add the avatar's LoRA to the denoiser (at the family's `lora_targets`) and, with
    `text_encoder_rank`, to every text encoder the family trains; its random initial weights
    drawn from `seed` alone. Returns the modules trained and their LoRA configs, by pipeline
    component name."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    model_family = engine.model_family
    pipeline = engine.pipeline
    denoiser_name = model_family.denoiser_name
    trained = {denoiser_name: engine.denoiser}
    configs = {
        denoiser_name: LoraConfig(
            r=rank,
            lora_alpha=rank,
            init_lora_weights="gaussian",
            target_modules=model_family.lora_targets(engine.denoiser),
        )
    }
    if text_encoder_rank:
        for name in model_family.text_encoder_names:
            trained[name] = getattr(pipeline, name)
            configs[name] = LoraConfig(
                r=text_encoder_rank,
                lora_alpha=text_encoder_rank,
                init_lora_weights="gaussian",
                target_modules=list(model_family.text_encoder_lora_target_modules),
            )
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)
        engine.denoiser.add_adapter(configs[denoiser_name], adapter_name=LORA_ADAPTER_NAME)
        for name, module in trained.items():
            if name != denoiser_name:
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


def _save_lora(pipeline, state: dict, configs: dict, output_path: Path, *, engine_family) -> None:
    """Write the adapters in `state` (by component name) into one file, where the family's
    `load_lora_weights` finds them; via a temporary name, so a job killed while saving never
    leaves half a file at `output_path`."""
    from diffusers.utils import convert_state_dict_to_diffusers

    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial_name = f".{output_path.name}.{os.getpid()}.partial.safetensors"
    # save_lora_weights names them unet_lora_layers (transformer_lora_layers),
    # text_encoder_lora_layers and text_encoder_2_lora_layers, with their metadata beside them.
    convert = engine_family.converts_lora_state
    layers = {
        f"{name}_lora_layers": convert_state_dict_to_diffusers(weights) if convert else weights
        for name, weights in state.items()
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
