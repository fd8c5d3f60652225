"""Rendering a portrait of an avatar: its LoRA on the base model, the best candidate, then the finishing passes.

A template gives a prompt with an "{identity}" placeholder (replaced by
"<token> <class>", e.g. "sks woman") and optionally a reference image, which turns the
render into image-to-image: `strength` is how far the render may move away from the
reference (1.0 ignores it; lower keeps more of its pose and light).

Each render tries `candidates` seeds derived from `seed` in one batch (candidates.py), scores each finished
picture with the caller's `score` (likeness to the person, None when no face is found) and
keeps the best; when the best has no face or scores under `min_likeness`, it tries another
batch, at most `max_rerolls` times. Scoring lives with the caller so the engine does not
depend on the face model.

The best candidate then goes through the passes of passes.py: the face pass (with
`find_face`, at `face_strength`) and the high-resolution pass (to `output_long_side`, at
`hires_strength`), each kept only when it does not lower likeness. The result's `stages`
say what each stage scored, its size and seconds, and whether it was kept. For the whole
job the LoRA is fused into the UNet (`Engine.lora_fused`): the same picture, to within
rounding, without the adapter's cost on every step. "More like me" moves the parameters
(more_like_me.py).

The tiny engine renders at most its own resolution: a 512x640 template becomes 48x64
(aspect kept, sides multiples of 8), so tests and demos stay fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .beauty import beautify
from .candidates import Candidate, best_candidate, candidate_seed, generate_candidates
from .passes import (
    DEFAULT_FACE_STRENGTH,
    DEFAULT_HIRES_STRENGTH,
    FaceFinder,
    PassOutcome,
    Redraw,
    Scorer,
    StageRecord,
    denoising_steps,
    face_pass,
    hires_pass,
    size_multiple_of,
)
from .pipeline import Engine

if TYPE_CHECKING:
    from PIL import Image

IDENTITY_PLACEHOLDER = "{identity}"
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
    "face_strength",
    "output_long_side",
    "hires_strength",
    "fuse_lora",
)

@dataclass(frozen=True)
class RenderResult:
    """The finished portrait (what the customer downloads) and how it was made: `likeness`
    is the finished image's, `stages` the chosen candidate's base render and passes in order."""

    image: "Image.Image"
    seed: int
    likeness: float | None
    parameters: dict[str, Any]
    candidates_tried: int
    stages: tuple[StageRecord, ...] = ()


class _Progress:
    """Steps done out of steps planned, across re-rolls and passes, for the caller's callback."""

    def __init__(self, callback: Callable[[int, int], None] | None, *, pass_steps: int) -> None:
        self.callback = callback
        self.done = 0
        self.base_total = 0
        self.pass_steps = pass_steps

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.base_total + self.pass_steps)

    def skip(self, steps: int) -> None:
        self.pass_steps -= steps


def resolve_prompt(prompt: str, *, identity_token: str, subject_class: str) -> str:
    """The template's prompt with the avatar in it; a prompt without the placeholder gets
    the avatar in front, since a render without the identity would be a stranger."""
    identity = f"{identity_token} {subject_class}"
    if IDENTITY_PLACEHOLDER in prompt:
        return prompt.replace(IDENTITY_PLACEHOLDER, identity)
    return f"a photo of {identity}, {prompt}" if prompt else f"a photo of {identity}"


def render_size(engine: Engine, width: int | None, height: int | None) -> tuple[int, int]:
    """(width, height) in multiples of the family's size multiple; defaults to the engine's
    square resolution, and on the tiny engine scaled down, aspect kept, to fit inside it."""
    width = width or engine.resolution
    height = height or engine.resolution
    if engine.is_tiny and max(width, height) > engine.resolution:
        shrink = engine.resolution / max(width, height)
        width, height = width * shrink, height * shrink
    multiple = engine.model_family.size_multiple
    return size_multiple_of(width, multiple), size_multiple_of(height, multiple)


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
    score: Scorer | None = None,
    max_rerolls: int = 0,
    min_likeness: float = 0.0,
    beauty: float = 0.0,
    find_face: FaceFinder | None = None,
    face_strength: float = DEFAULT_FACE_STRENGTH,
    output_long_side: int | None = None,
    hires_strength: float = DEFAULT_HIRES_STRENGTH,
    fuse_lora: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RenderResult:
    """Render the avatar in `lora_path` (None: the bare base model), keep the best candidate
    (after the beauty pass), finish it with the passes, and return it with everything needed
    to render it again.

    The face pass runs when `find_face` is given and `face_strength` > 0. The
    high-resolution pass runs when `output_long_side` is not None: 0 is the family's default
    (1024 px SD 1.5, 2048 px SDXL), and a long side not above the render's leaves its size;
    `hires_strength` 0 upscales without a refine. `fuse_lora` False keeps the adapter
    unfused (the reference the fused render is checked against).
    """
    if candidates < 1 or steps < 1 or max_rerolls < 0:
        raise ValueError("candidates and steps must be positive, max_rerolls not negative")
    resolved_prompt = resolve_prompt(prompt, identity_token=identity_token, subject_class=subject_class)
    width, height = render_size(engine, width, height)
    is_image_to_image = reference_image is not None
    rounds = 1 + (max_rerolls if score is not None else 0)
    # Each finishing pass in order: its name in the parameters, the steps it plans (given back
    # when it redraws nothing), and the pass with its own settings bound.
    finishing_passes: list[tuple[str, int, Callable[..., PassOutcome]]] = []
    if find_face is not None and face_strength > 0:
        face_steps = denoising_steps(steps, face_strength)
        finishing_passes.append(
            ("face_pass", face_steps, partial(face_pass, strength=face_strength, find_face=find_face))
        )
    if output_long_side is not None:
        hires_steps = denoising_steps(steps, hires_strength) if hires_strength > 0 else 0
        finishing_passes.append(
            ("hires_pass", hires_steps, partial(hires_pass, long_side=output_long_side, strength=hires_strength))
        )
    step_counter = _Progress(progress, pass_steps=sum(planned for _, planned, _ in finishing_passes))
    round_steps = min(int(steps * strength), steps) if is_image_to_image else steps
    is_fused = fuse_lora and lora_path is not None
    tried: list[Candidate] = []
    stages: list[StageRecord] = []
    pass_details: dict[str, Any] = {}

    with engine.lock:
        engine.use_lora(lora_path)
        with engine.lora_fused(lora_scale) if is_fused else nullcontext():
            # Fused, the scale is in the weights; unfused it goes with every call.
            call_lora_scale = lora_scale if lora_path is not None and not is_fused else None
            started = time.perf_counter()
            for round_index in range(rounds):
                step_counter.base_total = round_steps * (round_index + 1)
                seeds = [candidate_seed(seed, len(tried) + offset) for offset in range(candidates)]
                images = generate_candidates(
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
                    lora_scale=call_lora_scale,
                    on_step=step_counter.step if progress is not None else None,
                )
                for candidate_seed_value, image in zip(seeds, images, strict=True):
                    finished = beautify(image, amount=beauty)
                    likeness = score(finished) if score is not None else None
                    tried.append(Candidate(seed=candidate_seed_value, image=finished, likeness=likeness))
                best = best_candidate(tried)
                if score is None or (best.likeness is not None and best.likeness >= min_likeness):
                    break
            best = best_candidate(tried)
            note = "not measured" if best.likeness is None else f"best of {len(tried)}"
            stages.append(StageRecord("base", True, best.likeness, width, height, time.perf_counter() - started, note))

            settings = Redraw(
                prompt=resolved_prompt,
                negative_prompt=negative_prompt,
                guidance_scale=guidance_scale,
                steps=steps,
                seed=best.seed,
                lora_scale=call_lora_scale,
                on_step=step_counter.step if progress is not None else None,
            )
            image, likeness = best.image, best.likeness
            for name, planned_steps, finishing_pass in finishing_passes:
                outcome = finishing_pass(engine, image, settings=settings, score=score, likeness_before=likeness)
                if not outcome.redrew:
                    step_counter.skip(planned_steps)
                image, likeness = outcome.image, outcome.likeness
                stages.append(outcome.record)
                pass_details[name] = outcome.details

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
        "face_strength": float(face_strength),
        "output_long_side": output_long_side,
        "hires_strength": float(hires_strength),
        "fuse_lora": bool(fuse_lora),
        "scheduler": type(engine.pipeline.scheduler).__name__,
        "candidate_seeds": [candidate.seed for candidate in tried],
        "candidate_likeness": [candidate.likeness for candidate in tried],
        "output_width": image.width,
        "output_height": image.height,
        "stages": [stage.as_dict() for stage in stages],
        **pass_details,
    }
    return RenderResult(
        image=image,
        seed=best.seed,
        likeness=likeness,
        parameters=parameters,
        candidates_tried=len(tried),
        stages=tuple(stages),
    )


def render_arguments(parameters: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments to give render() again, from a RenderResult's parameters (or
    from more_like_me_parameters)."""
    return {name: parameters[name] for name in RENDER_ARGUMENT_NAMES if name in parameters}
