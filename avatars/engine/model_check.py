"""What a loaded engine is and what it costs: the figures `manage.py likeness_model check` prints.

It renders one test image through `render`, and on a GPU trains a few LoRA steps through
`train_lora`, the same code a job runs, measuring the peak memory of each: a model that
passes here runs in a worker.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .base_model import ModelLoadError, gpu_memory_problem, gpu_ran_out
from .pipeline import Engine
from .rendering import render
from .training import BATCH_SIZE, train_lora

TEST_PROMPT = "studio portrait photo of {identity}, soft window light, 85mm"
TEST_IDENTITY = ("sks", "person")
RENDER_STEPS = 25
# The first step pays for kernel selection; the steps after it give the steady rate.
TRAINING_STEPS_MEASURED = 4
TRAINING_PHOTOS = 4


@dataclass
class ModelReport:
    label: str
    family: str
    family_name: str
    # How an avatar's LoRA loads into this family's pipeline, for the operator and the export.
    lora_loader: str
    resolution: int
    device: str
    dtype: str
    load_seconds: float
    parameters: dict[str, int]
    lora_targets: dict[str, int]
    tokenizer_lengths: dict[str, int]
    image_path: Path
    render_seconds: float
    gpu_name: str = ""
    gpu_total_bytes: int = 0
    render_peak_bytes: int = 0
    training_peak_bytes: int = 0
    training_seconds_per_step: float = 0.0
    avatar_steps: int = 0
    problems: list = field(default_factory=list)

    @property
    def avatar_seconds(self) -> float:
        """Projected training time of one avatar at the configured step count."""
        return self.avatar_steps * self.training_seconds_per_step


def model_report(
    engine: Engine, *, image_path: Path, lora_rank: int, avatar_steps: int, render_steps: int = RENDER_STEPS
) -> ModelReport:
    """Describe `engine`, render one test image to `image_path`, and on a GPU measure training.

    Running out of GPU memory raises ModelLoadError; a peak too close to the card's size is
    listed in `problems`.
    """
    import torch

    pipeline = engine.pipeline
    report = ModelReport(
        label=engine.label,
        family=engine.family,
        family_name=engine.model_family.display_name,
        lora_loader=f"{engine.model_family.pipeline_class_name}.load_lora_weights",
        resolution=engine.resolution,
        device=engine.device,
        dtype=str(engine.dtype).removeprefix("torch."),
        load_seconds=engine.load_seconds,
        parameters={
            name: sum(parameter.numel() for parameter in module.parameters())
            for name in (engine.model_family.denoiser_name, *engine.model_family.text_encoder_names)
            if (module := getattr(pipeline, name, None)) is not None
        },
        lora_targets=lora_targets(engine),
        tokenizer_lengths={
            name: len(tokenizer)
            for name in ("tokenizer", "tokenizer_2")
            if (tokenizer := getattr(pipeline, name, None)) is not None
        },
        image_path=image_path,
        render_seconds=0.0,
        avatar_steps=avatar_steps,
    )
    on_gpu = engine.device.startswith("cuda")
    if on_gpu:
        properties = torch.cuda.get_device_properties(engine.device)
        report.gpu_name, report.gpu_total_bytes = properties.name, properties.total_memory

    def measured(stage: str, work):
        if on_gpu:
            torch.cuda.synchronize(engine.device)
            torch.cuda.reset_peak_memory_stats(engine.device)
        try:
            result = work()
        except torch.cuda.OutOfMemoryError as error:
            raise gpu_ran_out(
                stage=stage, error=error, total_bytes=report.gpu_total_bytes, device_name=report.gpu_name
            ) from error
        if on_gpu:
            torch.cuda.synchronize(engine.device)
            # Reserved, not allocated: what the process holds of the card, fragmentation included.
            peak = torch.cuda.max_memory_reserved(engine.device)
            problem = gpu_memory_problem(
                stage=stage, peak_bytes=peak, total_bytes=report.gpu_total_bytes, device_name=report.gpu_name
            )
            if problem is not None:
                report.problems.append(problem)
            return result, peak
        return result, 0

    started = time.perf_counter()
    identity_token, subject_class = TEST_IDENTITY
    portrait, report.render_peak_bytes = measured(
        "rendering one portrait",
        lambda: render(
            engine,
            lora_path=None,
            identity_token=identity_token,
            subject_class=subject_class,
            prompt=TEST_PROMPT,
            steps=render_steps,
            seed=0,
        ),
    )
    report.render_seconds = time.perf_counter() - started
    image_path.parent.mkdir(parents=True, exist_ok=True)
    portrait.image.save(image_path)

    if on_gpu:
        step_times: list[float] = []
        with tempfile.TemporaryDirectory() as folder:
            _, report.training_peak_bytes = measured(
                f"training an avatar (LoRA rank {lora_rank})",
                lambda: train_lora(
                    engine,
                    stand_in_photos(TRAINING_PHOTOS, size=engine.resolution),
                    identity_token=identity_token,
                    subject_class=subject_class,
                    output_path=Path(folder) / "check.safetensors",
                    rank=lora_rank,
                    samples=TRAINING_STEPS_MEASURED * BATCH_SIZE,
                    batch_size=BATCH_SIZE,
                    # Timed at the end of each optimizer step of BATCH_SIZE samples.
                    progress=lambda seen, total, loss: seen % BATCH_SIZE or step_times.append(time.perf_counter()),
                ),
            )
        report.training_seconds_per_step = (step_times[-1] - step_times[0]) / (len(step_times) - 1)
    return report


def lora_targets(engine: Engine) -> dict[str, int]:
    """How many of the denoiser's layers each of the family's LoRA targets names, matched as
    peft matches them: none means the model's attention is named otherwise and a LoRA would
    train nothing."""
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    targets = engine.model_family.lora_targets(engine.denoiser)
    configs = {target: LoraConfig(target_modules=[target]) for target in targets}
    counts = dict.fromkeys(targets, 0)
    for name, _ in engine.denoiser.named_modules():
        for target, config in configs.items():
            if check_target_module_exists(config, name):
                counts[target] += 1
    return counts


def stand_in_photos(count: int, *, size: int):
    """Stand-ins for cropped selfies: what training costs does not depend on the pixels."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:size, 0:size] / size
    return [
        Image.fromarray(
            (np.stack([x, y, (x + y) / 2], axis=-1) * 255 * (0.5 + index / count / 2)).astype(np.uint8)
        )
        for index in range(count)
    ]


def render_model_problem(training: Engine, rendering: Engine) -> ModelLoadError | None:
    """Why a LoRA trained on `training` would not load into `rendering` (None when it would):
    another family, or a denoiser of another shape (its config's sizes, the LoRA's layers)."""
    if training.family != rendering.family:
        return ModelLoadError(
            f"The render model ({rendering.label}) is {rendering.model_family.display_name}, the training model "
            f"({training.label}) {training.model_family.display_name}: a LoRA loads only into its own architecture.",
            "Set LIKENESS_RENDER_MODEL to a checkpoint of the training model's family (Z-Image Turbo for "
            "Z-Image Base, say), or unset it to render with the training model.",
        )
    differences = sorted(
        key
        for key, value in training.denoiser.config.items()
        if not key.startswith("_") and rendering.denoiser.config.get(key) != value
    )
    layers = set(lora_targets(training).items()) ^ set(lora_targets(rendering).items())
    if differences or layers:
        what = ", ".join(differences) or "the LoRA's target layers"
        return ModelLoadError(
            f"The render model ({rendering.label}) and the training model ({training.label}) are both "
            f"{training.model_family.display_name} but their {training.model_family.denoiser_name}s differ in "
            f"{what}: the LoRA would not fit.",
            "Choose a render model of the same size as the training model (Z-Image Turbo for Z-Image Base; "
            "FLUX.2 klein 4B for FLUX.2 klein Base 4B).",
        )
    return None
