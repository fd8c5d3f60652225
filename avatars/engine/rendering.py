"""Rendering portraits of an avatar: its LoRA on the loaded base model, best of N candidates.

A template gives a prompt with an "{identity}" placeholder (replaced by
"<token> <class>", e.g. "sks woman") and optionally a reference image, which turns the
render into image-to-image: `strength` is how far the render may move away from the
reference (1.0 ignores it; lower keeps more of its pose and light).

Each render tries `candidates` seeds derived from `seed`, scores each finished picture
with the caller's `score` (likeness to the person, None when no face is found) and keeps
the best; when the best has no face or scores under `min_likeness`, it tries another batch,
at most `max_rerolls` times. Scoring lives with the caller so the engine does not depend
on the face model.

The tiny engine renders at most its own resolution: a 512x640 template becomes 48x64
(aspect kept, sides multiples of 8), so tests and demos stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .beauty import beautify
from .pipeline import Engine

if TYPE_CHECKING:
    from PIL import Image

IDENTITY_PLACEHOLDER = "{identity}"
SEED_MODULUS = 2**32
# Candidate i's seed is seed + i * SEED_STRIDE: candidate 0 is `seed` itself, so re-rendering
# the chosen seed with one candidate gives the chosen picture again.
SEED_STRIDE = 1_000_003

# The render() arguments that parameters record; the caller adds the engine, LoRA,
# reference image and callbacks.
RENDER_ARGUMENT_NAMES = (
    "identity_token",
    "subject_class",
    "prompt",
    "negative_prompt",
    "strength",
    "guidance_scale",
    "steps",
    "width",
    "height",
    "seed",
    "lora_scale",
    "candidates",
    "max_rerolls",
    "min_likeness",
    "beauty",
)

# "More like me": each click moves these by a step toward the avatar, never past a bound.
MORE_LIKE_ME_LORA_SCALE_STEP = 0.15
MORE_LIKE_ME_LORA_SCALE_MAX = 1.4
MORE_LIKE_ME_STRENGTH_STEP = 0.05
MORE_LIKE_ME_STRENGTH_MAX = 0.9
MORE_LIKE_ME_GUIDANCE_STEP = 0.5
MORE_LIKE_ME_GUIDANCE_MIN = 4.0


@dataclass(frozen=True)
class RenderResult:
    image: "Image.Image"
    seed: int
    likeness: float | None
    parameters: dict[str, Any]
    candidates_tried: int


@dataclass
class _Candidate:
    seed: int
    image: "Image.Image"
    likeness: float | None


def resolve_prompt(prompt: str, *, identity_token: str, subject_class: str) -> str:
    """The template's prompt with the avatar in it; a prompt without the placeholder gets
    the avatar in front, since a render without the identity would be a stranger."""
    identity = f"{identity_token} {subject_class}"
    if IDENTITY_PLACEHOLDER in prompt:
        return prompt.replace(IDENTITY_PLACEHOLDER, identity)
    return f"a photo of {identity}, {prompt}" if prompt else f"a photo of {identity}"


def render_size(engine: Engine, width: int | None, height: int | None) -> tuple[int, int]:
    """(width, height) in multiples of 8; defaults to the engine's square resolution, and on
    the tiny engine scaled down, aspect kept, to fit inside it."""
    width = width or engine.resolution
    height = height or engine.resolution
    if engine.is_tiny and max(width, height) > engine.resolution:
        shrink = engine.resolution / max(width, height)
        width, height = width * shrink, height * shrink
    return _multiple_of_8(width), _multiple_of_8(height)


def candidate_seed(seed: int, index: int) -> int:
    return (seed + index * SEED_STRIDE) % SEED_MODULUS


def render(
    engine: Engine,
    *,
    lora_path: str | Path | None,
    identity_token: str,
    subject_class: str,
    prompt: str,
    negative_prompt: str = "",
    reference_image: "Image.Image | None" = None,
    strength: float = 0.75,
    guidance_scale: float = 7.0,
    steps: int = 25,
    width: int | None = None,
    height: int | None = None,
    seed: int = 0,
    lora_scale: float = 1.0,
    candidates: int = 1,
    score: Callable[["Image.Image"], float | None] | None = None,
    max_rerolls: int = 0,
    min_likeness: float = 0.0,
    beauty: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> RenderResult:
    """Render the avatar in `lora_path` (None: the bare base model) and return the best
    candidate, after the beauty pass, with everything needed to render it again."""
    if candidates < 1 or steps < 1 or max_rerolls < 0:
        raise ValueError("candidates and steps must be positive, max_rerolls not negative")
    resolved_prompt = resolve_prompt(prompt, identity_token=identity_token, subject_class=subject_class)
    width, height = render_size(engine, width, height)
    is_image_to_image = reference_image is not None
    rounds = 1 + (max_rerolls if score is not None else 0)
    tried: list[_Candidate] = []
    progress_state = {"done": 0}

    with engine.lock:
        engine.use_lora(lora_path)
        for round_index in range(rounds):
            seeds = [candidate_seed(seed, len(tried) + offset) for offset in range(candidates)]
            images = _generate(
                engine,
                prompt=resolved_prompt,
                negative_prompt=negative_prompt,
                reference_image=reference_image,
                strength=strength,
                guidance_scale=guidance_scale,
                steps=steps,
                width=width,
                height=height,
                seeds=seeds,
                lora_scale=lora_scale if lora_path is not None else None,
                progress=progress,
                progress_state=progress_state,
                rounds_so_far=round_index + 1,
            )
            for candidate_seed_value, image in zip(seeds, images, strict=True):
                finished = beautify(image, amount=beauty)
                likeness = score(finished) if score is not None else None
                tried.append(_Candidate(seed=candidate_seed_value, image=finished, likeness=likeness))
            best = _best(tried)
            if score is None or (best.likeness is not None and best.likeness >= min_likeness):
                break

    best = _best(tried)
    parameters = {
        "engine": engine.label,
        "family": engine.family,
        "mode": "img2img" if is_image_to_image else "txt2img",
        "identity_token": identity_token,
        "subject_class": subject_class,
        "prompt": prompt,
        "resolved_prompt": resolved_prompt,
        "negative_prompt": negative_prompt,
        "strength": float(strength),
        "guidance_scale": float(guidance_scale),
        "steps": int(steps),
        "width": width,
        "height": height,
        "seed": best.seed,
        "base_seed": int(seed),
        "lora": Path(lora_path).name if lora_path is not None else None,
        "lora_scale": float(lora_scale),
        "candidates": int(candidates),
        "max_rerolls": int(max_rerolls),
        "min_likeness": float(min_likeness),
        "beauty": float(beauty),
        "scheduler": type(engine.pipeline.scheduler).__name__,
        "candidate_seeds": [candidate.seed for candidate in tried],
        "candidate_likeness": [candidate.likeness for candidate in tried],
    }
    return RenderResult(
        image=best.image, seed=best.seed, likeness=best.likeness, parameters=parameters, candidates_tried=len(tried)
    )


def render_arguments(parameters: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments to give render() again, from a RenderResult's parameters (or
    from more_like_me_parameters)."""
    return {name: parameters[name] for name in RENDER_ARGUMENT_NAMES if name in parameters}


def more_like_me_parameters(previous: dict[str, Any]) -> dict[str, Any]:
    """The parameters for one "more like me" click on a portrait rendered with `previous`.

    Each click, from the portrait's own seed (so the picture stays recognisably the same):
    - lora_scale +0.15, up to 1.4: the avatar's weights count more;
    - strength +0.05, up to 0.9: the template's reference image pulls less (strength is how
      far image-to-image may move from the reference; 1.0 would drop the template's pose);
    - guidance_scale -0.5, down to 4.0: a strong prompt pull over-cooks a face that the
      stronger LoRA already pushes, which reads as plastic.
    Every value moves only toward the avatar and stays within its bound; a value already past
    its bound is left as it is. Pure: `previous` is not changed.
    """
    lora_scale = float(previous.get("lora_scale", 1.0))
    strength = float(previous.get("strength", 0.75))
    guidance_scale = float(previous.get("guidance_scale", 7.0))
    return {
        **previous,
        "lora_scale": round(max(lora_scale, min(lora_scale + MORE_LIKE_ME_LORA_SCALE_STEP, MORE_LIKE_ME_LORA_SCALE_MAX)), 4),
        "strength": round(max(strength, min(strength + MORE_LIKE_ME_STRENGTH_STEP, MORE_LIKE_ME_STRENGTH_MAX)), 4),
        "guidance_scale": round(
            min(guidance_scale, max(guidance_scale - MORE_LIKE_ME_GUIDANCE_STEP, MORE_LIKE_ME_GUIDANCE_MIN)), 4
        ),
        "seed": previous.get("seed", 0),
        "more_like_me_clicks": int(previous.get("more_like_me_clicks", 0)) + 1,
    }


def _generate(
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
    progress,
    progress_state: dict,
    rounds_so_far: int,
) -> list["Image.Image"]:
    import torch
    from PIL import Image, ImageOps

    # CPU generators: a seed gives the same starting noise on any machine.
    generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]

    def report_step(pipeline, step_index, timestep, callback_kwargs):
        progress_state["done"] += 1
        progress(progress_state["done"], pipeline.num_timesteps * rounds_so_far)
        return callback_kwargs

    arguments: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative_prompt or None,
        "num_inference_steps": steps,
        "guidance_scale": guidance_scale,
        "num_images_per_prompt": len(seeds),
        "generator": generators,
        "output_type": "pil",
    }
    if lora_scale is not None:
        arguments["cross_attention_kwargs"] = {"scale": lora_scale}
    if progress is not None:
        arguments["callback_on_step_end"] = report_step
    if reference_image is None:
        pipeline = engine.pipeline
        arguments.update(width=width, height=height)
    else:
        pipeline = engine.image_to_image
        fitted = ImageOps.fit(reference_image.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS)
        arguments.update(image=fitted, strength=strength)
    with torch.inference_mode():
        return pipeline(**arguments).images


def _best(tried: list[_Candidate]) -> _Candidate:
    scored = [candidate for candidate in tried if candidate.likeness is not None]
    if not scored:
        return tried[0]
    return max(scored, key=lambda candidate: candidate.likeness)


def _multiple_of_8(value: float) -> int:
    return max(8, int(round(value / 8)) * 8)
