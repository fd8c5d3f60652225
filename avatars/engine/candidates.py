"""The base render's candidates: one batch of seeds in a single pipeline call, and the best of them kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .pipeline import Engine

if TYPE_CHECKING:
    from PIL import Image

SEED_MODULUS = 2**32
# Candidate i's seed is seed + i * SEED_STRIDE: candidate 0 is `seed` itself, so re-rendering
# the chosen seed with one candidate gives the chosen picture again.
SEED_STRIDE = 1_000_003


@dataclass
class Candidate:
    seed: int
    image: "Image.Image"
    likeness: float | None


def candidate_seed(seed: int, index: int) -> int:
    return (seed + index * SEED_STRIDE) % SEED_MODULUS


def generate_candidates(
    engine: Engine,
    *,
    prompt: str,
    negative_prompt: str,
    reference_image,
    strength: float,
    guidance_scale: float,
    steps: int,
    width: int,
    height: int,
    seeds: list[int],
    lora_scale: float | None,
    on_step: Callable[[], None] | None,
) -> list["Image.Image"]:
    """One batch: every seed's candidate in a single pipeline call (num_images_per_prompt)."""
    import torch
    from PIL import Image, ImageOps

    # CPU generators: a seed gives the same starting noise on any machine.
    generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]

    def report_step(pipeline, step_index, timestep, callback_kwargs):
        on_step()
        return callback_kwargs

    model_family = engine.model_family
    arguments: dict[str, Any] = {
        "prompt": prompt,
        **model_family.call_arguments(engine.pipeline, negative_prompt=negative_prompt, lora_scale=lora_scale),
        "num_inference_steps": steps,
        "guidance_scale": guidance_scale,
        "num_images_per_prompt": len(seeds),
        "generator": generators,
        "output_type": "pil",
    }
    if on_step is not None:
        arguments["callback_on_step_end"] = report_step
    if reference_image is None:
        pipeline = engine.pipeline
        arguments.update(width=width, height=height)
    else:
        pipeline = engine.image_to_image
        fitted = ImageOps.fit(reference_image.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS)
        arguments.update(model_family.redraw_arguments(fitted, strength=strength))
    with torch.inference_mode():
        return pipeline(**arguments).images


def best_candidate(tried: list[Candidate]) -> Candidate:
    scored = [candidate for candidate in tried if candidate.likeness is not None]
    if not scored:
        return tried[0]
    return max(scored, key=lambda candidate: candidate.likeness)
