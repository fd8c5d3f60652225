"""Validation while an avatar trains: how much the LoRA, as trained so far, looks like the person.

EasyPhoto (scripts/train_kohya/train_lora.py) renders validation portraits every 100 steps
of 4 photos and keeps the checkpoints whose faces are closest to the mean identity of the
person's photos. Here the renders are a few fixed seeds of one neutral portrait prompt, and
each is scored by the caller's `score(image) -> likeness | None`, the same scorer that ranks
rendered portraits, so this module knows no face code either. Training (training.py) decides
when to validate and which checkpoint to keep. EasyPhoto also merges its best checkpoints;
that is left out until a real model shows the merge resembles the person more than the best.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .pipeline import Engine
from .rendering import resolve_prompt

if TYPE_CHECKING:
    from PIL import Image

# Head and shoulders, facing the camera, soft light: what the face scorer reads best, and
# nothing of a style template that could pull the face away from the person.
VALIDATION_PROMPT = "a close-up portrait photo of {identity}, facing the camera, soft light"
# Four renders: enough that one unlucky seed does not decide, few enough that eight
# validations stay a small part of the job.
VALIDATION_SEEDS = (0, 1, 2, 3)
# DPM-Solver++ gives a recognisable face in ~20 steps (EasyPhoto validates with 20).
VALIDATION_STEPS = 20
# Three quarters of the model's own size (384 px for SD 1.5, 768 for SDXL): the face stays
# well over the ~65 px the face detector needs, at about half the cost of a full render.
VALIDATION_SIZE_FRACTION = 0.75


@dataclass(frozen=True)
class ValidationPoint:
    """One validation during training.

    `mean_likeness` is the mean over all `images` validated, an image without a face counting
    as 0 (a render that lost the face is as unlike the person as it gets); None when no image
    had a face, or nothing was rendered (no scorer): then the point carries only the loss.
    """

    samples: int
    loss: float
    mean_likeness: float | None
    best_likeness: float | None
    faces_found: int
    images: int


def validation_size(engine: Engine) -> int:
    return max(8, round(engine.resolution * VALIDATION_SIZE_FRACTION / 8) * 8)


def validation_point(*, samples: int, loss: float, likenesses: Sequence[float | None]) -> ValidationPoint:
    found = [likeness for likeness in likenesses if likeness is not None]
    return ValidationPoint(
        samples=samples,
        loss=loss,
        mean_likeness=round(sum(found) / len(likenesses), 1) if found else None,
        best_likeness=max(found) if found else None,
        faces_found=len(found),
        images=len(likenesses),
    )


def is_better(point: ValidationPoint, best: ValidationPoint | None) -> bool:
    """Whether `point` resembles the person more than `best`; on a tie the earlier one stays,
    having seen fewer samples to overfit on."""
    if point.mean_likeness is None:
        return False
    return best is None or point.mean_likeness > best.mean_likeness


def render_validation_images(
    engine: Engine,
    *,
    identity_token: str,
    subject_class: str,
    seeds: Sequence[int],
    steps: int,
    size: int,
    on_step: Callable[[], None] | None = None,
) -> list["Image.Image"]:
    """The validation portraits with whatever adapters the pipeline holds now (the one being
    trained), one per seed, in one batch. The caller puts the modules in eval mode."""
    import torch

    def report_step(pipeline, step_index, timestep, callback_kwargs):
        on_step()
        return callback_kwargs

    on_gpu = engine.device.startswith("cuda")
    model_family = engine.model_family
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=engine.dtype, enabled=on_gpu):
        return engine.pipeline(
            prompt=resolve_prompt(
                VALIDATION_PROMPT, identity_token=identity_token, subject_class=subject_class
            ),
            **model_family.call_arguments(engine.pipeline, negative_prompt="", lora_scale=None),
            num_inference_steps=steps,
            guidance_scale=model_family.default_guidance,
            num_images_per_prompt=len(seeds),
            # CPU generators, as rendering's: a seed gives the same starting noise anywhere.
            generator=[torch.Generator(device="cpu").manual_seed(seed) for seed in seeds],
            width=size,
            height=size,
            output_type="pil",
            callback_on_step_end=report_step if on_step is not None else None,
        ).images
