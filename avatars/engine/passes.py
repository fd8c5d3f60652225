"""The finishing passes after a portrait's base render: a face pass and a high-resolution pass.

Both are image-to-image with the weights a render already has (the base model and the
person's own LoRA): the avatar redraws its own picture. No pixel ever comes from a photo or
from anyone else's face: this is not face swapping.

- The face pass (ADetailer's approach): find the face in the render, crop a square around
  it with a margin, redraw the crop at the model's own resolution (where a 100 px face in a
  half-body picture gets 512 px of detail), scale it back and blend it in under a feathered
  ellipse over the face. Pixels outside that mask are never changed.
- The high-resolution pass (the "hires fix" of FaceChain and EasyPhoto): Lanczos upscale to
  the template's output long side, then a low-strength redraw that puts back the fine detail
  an upscale cannot invent. Above VAE_TILING_MIN_PIXELS on a GPU the VAE encodes and decodes
  in tiles, which bounds its memory at the cost of some speed.

Each pass is measured with the caller's `score` before and after and kept only when it
does not lower likeness (`likeness_verdict`). Where nothing can be measured (no centroid,
the tiny engine) a pass is kept and its record says "not measured".

On the tiny engine the output long side shrinks by the same factor as the render size
(64 px for a 512 px model): a 1024 px SD 1.5 output becomes 128 px, so tests stay fast.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .pipeline import Engine

if TYPE_CHECKING:
    from PIL import Image

    from .faces import Box

Scorer = Callable[["Image.Image"], "float | None"]
FaceFinder = Callable[["Image.Image"], "Box | None"]

# ADetailer's default denoising strength for its face pass.
DEFAULT_FACE_STRENGTH = 0.4
# Low enough that the upscaled picture keeps its composition and the face its identity; the
# usual 0.2-0.35 range of a Lanczos "hires fix".
DEFAULT_HIRES_STRENGTH = 0.3
# The crop around a face reaches this many face sides beyond it on every side: enough
# context (hair, jaw, neck) for the model to draw a face that belongs to the picture.
FACE_CROP_MARGIN = 0.4
# The blend mask: an ellipse over the face box grown by this share of the face's side, its
# edge feathered by a Gaussian of this share. Grown plus three feather radii stays inside
# the crop's margin, so the mask never reaches the crop's edge.
FACE_MASK_GROWTH = 0.1
FACE_MASK_FEATHER = 0.08
# Below this a face is a few pixels: a redraw would invent rather than refine it.
MIN_FACE_SIDE = 8
# The untiled KL VAE holds full-resolution activations for the whole picture; past about
# 1.5 megapixels (SDXL's 2048 px output) that runs to many GB in bf16. Tiles bound it.
VAE_TILING_MIN_PIXELS = 1536 * 1536


@dataclass(frozen=True)
class LikenessVerdict:
    """Whether a new picture is kept over the one it came from, and why, in words."""

    keep: bool
    measured: bool
    reason: str


@dataclass(frozen=True)
class StageRecord:
    """One stage of a portrait: `likeness` is what its output scored (None: not measured),
    `kept` whether the portrait went on from its output."""

    stage: str  # "base", "face" or "hires"
    kept: bool
    likeness: float | None
    width: int
    height: int
    seconds: float
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 4)}


@dataclass(frozen=True)
class Redraw:
    """What every image-to-image redraw of one portrait shares. `lora_scale` is None when the
    LoRA is fused into the UNet (or there is none): then no scale is passed per call."""

    prompt: str
    negative_prompt: str
    guidance_scale: float
    steps: int
    seed: int
    lora_scale: float | None = None
    on_step: Callable[[], None] | None = None


@dataclass(frozen=True)
class PassOutcome:
    """A pass's picture (its own, or the one it was given when not kept) and that picture's
    likeness; `redrew` whether it ran image-to-image at all."""

    image: "Image.Image"
    likeness: float | None
    record: StageRecord
    details: dict[str, Any]
    redrew: bool = True


def likeness_verdict(new: float | None, old: float | None, *, keep_ties: bool) -> LikenessVerdict:
    """Keep `new` over `old`? When both are measured: if it is higher (or equal, with
    `keep_ties`). When neither is: yes, labelled "not measured" (the tiny engine, no
    centroid). A picture whose face can no longer be measured is never kept over one whose
    face could; one measured where its source was not is kept, and says so."""
    if new is None and old is None:
        return LikenessVerdict(keep=True, measured=False, reason="not measured")
    if new is None:
        return LikenessVerdict(keep=False, measured=True, reason=f"no face measured (was {old:.1f})")
    if old is None:
        return LikenessVerdict(keep=True, measured=True, reason=f"{new:.1f}, where before was not measured")
    keep = new > old or (keep_ties and new == old)
    return LikenessVerdict(keep=keep, measured=True, reason=f"{old:.1f} -> {new:.1f}")


def redraw_steps(steps: int, strength: float) -> int:
    """Steps to ask of image-to-image so it denoises at least one: it runs int(steps * strength)."""
    return max(steps, math.ceil(1 / strength))


def denoising_steps(steps: int, strength: float) -> int:
    """The steps an image-to-image redraw at `strength` actually runs (what its progress counts)."""
    return min(int(redraw_steps(steps, strength) * strength), redraw_steps(steps, strength))


def redraw(engine: Engine, image: "Image.Image", *, settings: Redraw, strength: float) -> "Image.Image":
    """`image` redrawn by image-to-image at `strength`, at its own size."""
    import torch

    def report_step(pipeline, step_index, timestep, callback_kwargs):
        settings.on_step()
        return callback_kwargs

    arguments: dict[str, Any] = {
        "prompt": settings.prompt,
        **engine.model_family.call_arguments(
            engine.pipeline, negative_prompt=settings.negative_prompt, lora_scale=settings.lora_scale
        ),
        **engine.model_family.redraw_arguments(image, strength=strength),
        "num_inference_steps": redraw_steps(settings.steps, strength),
        "guidance_scale": settings.guidance_scale,
        # CPU generators: a seed gives the same noise on any machine.
        "generator": torch.Generator(device="cpu").manual_seed(settings.seed),
        "output_type": "pil",
    }
    if settings.on_step is not None:
        arguments["callback_on_step_end"] = report_step
    with torch.inference_mode():
        return engine.image_to_image(**arguments).images[0]


def face_crop_box(face: "Box", image_size: tuple[int, int]) -> "Box":
    """A square around `face` reaching FACE_CROP_MARGIN face sides beyond it, moved (and if
    need be shrunk) to lie inside the picture."""
    width, height = image_size
    left, top, right, bottom = face
    side = round(max(right - left, bottom - top) * (1 + 2 * FACE_CROP_MARGIN))
    side = min(side, width, height)
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    crop_left = min(max(round(centre_x - side / 2), 0), width - side)
    crop_top = min(max(round(centre_y - side / 2), 0), height - side)
    return crop_left, crop_top, crop_left + side, crop_top + side


def face_mask(image_size: tuple[int, int], face: "Box", crop: "Box") -> "Image.Image":
    """The blend mask ("L", the picture's size): a feathered ellipse over the face, zero
    everywhere outside `crop`."""
    from PIL import Image, ImageDraw, ImageFilter

    left, top, right, bottom = face
    side = max(right - left, bottom - top)
    grow = FACE_MASK_GROWTH * side
    mask = Image.new("L", image_size, 0)
    ImageDraw.Draw(mask).ellipse([left - grow, top - grow, right + grow, bottom + grow], fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(radius=max(1.0, FACE_MASK_FEATHER * side)))
    inside_crop = Image.new("L", image_size, 0)
    inside_crop.paste(255, crop)
    return Image.composite(mask, inside_crop, inside_crop)


def face_pass(
    engine: Engine,
    image: "Image.Image",
    *,
    settings: Redraw,
    strength: float,
    find_face: FaceFinder,
    score: Scorer | None,
    likeness_before: float | None,
) -> PassOutcome:
    """The face redrawn by the avatar at the model's resolution and blended back, when that
    does not lower likeness; otherwise `image` unchanged (the record says why)."""
    from PIL import Image

    started = time.perf_counter()
    face = find_face(image)
    if face is None or min(face[2] - face[0], face[3] - face[1]) < MIN_FACE_SIDE:
        note = "no face found" if face is None else "face too small to redraw"
        return _unchanged(image, "face", likeness_before, started, note, {"face_box": face})
    face = tuple(int(value) for value in face)
    crop = face_crop_box(face, image.size)
    crop_size = (crop[2] - crop[0], crop[3] - crop[1])
    at_model_size = image.crop(crop).resize((engine.resolution, engine.resolution), Image.Resampling.LANCZOS)
    redrawn = redraw(engine, at_model_size, settings=settings, strength=strength)
    pasted = image.copy()
    pasted.paste(redrawn.resize(crop_size, Image.Resampling.LANCZOS), crop[:2])
    blended = Image.composite(pasted, image, face_mask(image.size, face, crop))
    likeness = score(blended) if score is not None else None
    verdict = likeness_verdict(likeness, likeness_before, keep_ties=True)
    details = {"face_box": list(face), "crop_box": list(crop), "kept": verdict.keep}
    note = verdict.reason if verdict.keep else f"{verdict.reason}: the face before it kept"
    record = _record("face", verdict.keep, likeness, image, started, note)
    if verdict.keep:
        return PassOutcome(image=blended, likeness=likeness, record=record, details=details)
    return PassOutcome(image=image, likeness=likeness_before, record=record, details=details)


def output_long_side(engine: Engine, long_side: int) -> int:
    """The long side the high-resolution pass makes: `long_side`, or 0 for the family's
    default; on the tiny engine shrunk like its render size."""
    model_family = engine.model_family
    long_side = long_side or model_family.default_output_long_side
    if engine.is_tiny:
        return round(long_side * engine.resolution / model_family.default_resolution)
    return long_side


def output_size(image_size: tuple[int, int], long_side: int, *, multiple: int = 8) -> tuple[int, int]:
    """`image_size` scaled so its long side is `long_side`, both sides multiples of `multiple`
    (the family's size multiple)."""
    width, height = image_size
    scale = long_side / max(width, height)
    return size_multiple_of(width * scale, multiple), size_multiple_of(height * scale, multiple)


def hires_pass(
    engine: Engine,
    image: "Image.Image",
    *,
    settings: Redraw,
    long_side: int,
    strength: float,
    score: Scorer | None,
    likeness_before: float | None,
    vae_tiling: bool | None = None,
) -> PassOutcome:
    """`image` upscaled (Lanczos) to `long_side` (see output_long_side) and refined at
    `strength`. When the refine lowers likeness, the plain upscale is kept instead: the
    output has the template's size either way. `vae_tiling` None: tiled above
    VAE_TILING_MIN_PIXELS on a GPU."""
    from PIL import Image

    started = time.perf_counter()
    target = output_size(
        image.size, output_long_side(engine, long_side), multiple=engine.model_family.size_multiple
    )
    if max(target) <= max(image.size):
        return _unchanged(image, "hires", likeness_before, started, "output not larger than the render", {})
    upscaled = image.resize(target, Image.Resampling.LANCZOS)
    if strength <= 0:
        likeness = score(upscaled) if score is not None else None
        record = _record("hires", True, likeness, upscaled, started, "upscaled only (no refine asked)")
        return PassOutcome(upscaled, likeness, record, {"refined": False, "vae_tiling": False}, redrew=False)
    if vae_tiling is None:
        vae_tiling = engine.device.startswith("cuda") and target[0] * target[1] > VAE_TILING_MIN_PIXELS
    with vae_tiled(engine, vae_tiling):
        refined = redraw(engine, upscaled, settings=settings, strength=strength)
    likeness = score(refined) if score is not None else None
    verdict = likeness_verdict(likeness, likeness_before, keep_ties=True)
    details = {"refined": verdict.keep, "vae_tiling": vae_tiling}
    if verdict.keep:
        record = _record("hires", True, likeness, refined, started, verdict.reason)
        return PassOutcome(refined, likeness, record, details)
    plain_likeness = score(upscaled) if score is not None else None
    record = _record("hires", False, likeness, refined, started, f"{verdict.reason}: the plain upscale kept")
    return PassOutcome(upscaled, plain_likeness, record, details)


@contextmanager
def vae_tiled(engine: Engine, enabled: bool):
    """The shared VAE tiled (or not) for the block, and as it was afterwards."""
    vae = engine.pipeline.vae
    was_tiled = vae.use_tiling
    if enabled:
        vae.enable_tiling()
    else:
        vae.disable_tiling()
    try:
        yield
    finally:
        vae.use_tiling = was_tiled


def web_copy(image: "Image.Image", *, long_side: int = 1024) -> "Image.Image":
    """The copy pages show: `image` scaled down (Lanczos) to `long_side`, never up."""
    from PIL import Image

    if max(image.size) <= long_side:
        return image.copy()
    scale = long_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _unchanged(image, stage: str, likeness, started: float, note: str, details: dict) -> PassOutcome:
    return PassOutcome(image, likeness, _record(stage, False, None, image, started, note), details, redrew=False)


def _record(stage: str, kept: bool, likeness, image, started: float, note: str) -> StageRecord:
    return StageRecord(
        stage=stage,
        kept=kept,
        likeness=likeness,
        width=image.width,
        height=image.height,
        seconds=time.perf_counter() - started,
        note=note,
    )


def size_multiple_of(value: float, multiple: int) -> int:
    """`value` rounded to a multiple of `multiple` (at least one)."""
    return max(multiple, int(round(value / multiple)) * multiple)
