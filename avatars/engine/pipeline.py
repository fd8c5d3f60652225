"""The loaded base model: one diffusers pipeline per worker process, reused by every job.

A job only swaps the avatar's LoRA in and out (`Engine.use_lora`); the base weights stay
loaded between jobs, which is what makes the second job start in milliseconds instead of
the tens of seconds a real checkpoint takes to load.

The default base model is the *tiny engine*: a pipeline shaped like the family's (Stable
Diffusion 1.5 unless another is named), built from small configs in code with seeded random
weights and a tokenizer made in memory, so it needs no download (families/ holds each
family's configs). Its pictures are coloured
noise, but it goes through the same code as a real model: `get_engine` differs only in how
the pipeline is constructed; training and rendering never ask which one they hold. A real
model (one .safetensors checkpoint, a diffusers folder or a hub id) is loaded by
`base_model.load_base_model`.

torch and diffusers are imported inside functions so that importing this module (from a
Django process, say) stays cheap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .families import DEFAULT_FAMILY, ModelFamily
from .families import family as family_named

if TYPE_CHECKING:
    import torch

TINY_BASE_MODEL = "tiny"
TINY_LABEL = "tiny engine: not a real model"
TINY_RESOLUTION = 64
LORA_ADAPTER_NAME = "avatar"


@dataclass(frozen=True)
class EngineSpec:
    """What to load: "tiny", a diffusers folder, a hub id, or one single-file checkpoint
    (see `base_model.load_base_model`)."""

    base_model: str = TINY_BASE_MODEL
    family: str = ""  # "": the family the weights say (families.DEFAULT_FAMILY for the tiny engine)
    device: str = "auto"
    resolution: int = 0  # 0: 64 for the tiny engine, the family's default_resolution otherwise
    # A diffusers folder whose configs describe a single-file checkpoint; "": the family's shipped ones.
    model_config: str = ""
    # Pickled checkpoints (.ckpt) can run code when loaded: refused unless this is set.
    allow_pickle: bool = False


@dataclass(eq=False)
class Engine:
    """A loaded text-to-image pipeline, its image-to-image twin over the same modules, and
    which avatar LoRA is in them right now."""

    spec: EngineSpec
    pipeline: Any
    image_to_image: Any
    device: str
    dtype: "torch.dtype"
    label: str
    resolution: int
    is_tiny: bool
    load_seconds: float
    # Training and rendering change the shared modules (adapters, grad flags): one at a time.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    active_lora: tuple | None = None

    @property
    def family(self) -> str:
        """The family's name (what an avatar records, what its LoRA loads into)."""
        return self.spec.family

    @property
    def model_family(self) -> "ModelFamily":
        return family_named(self.spec.family)

    @property
    def denoiser(self):
        """The module the LoRA is in: the UNet or the transformer."""
        return getattr(self.pipeline, self.model_family.denoiser_name)

    def use_lora(self, lora_path: str | Path | None) -> None:
        """Make `lora_path` the only adapter in the pipeline (None: the bare base model).

        A file is identified by its path, size and modification time, so an avatar
        retrained into the same path is loaded afresh.
        """
        if lora_path is None:
            self.clear_lora()
            return
        path = Path(lora_path).resolve()
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key == self.active_lora:
            return
        self.clear_lora()
        self.pipeline.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=LORA_ADAPTER_NAME)
        # peft injects adapters trainable; for rendering they are frozen like the base weights.
        self.denoiser.requires_grad_(False)
        self.active_lora = key

    def clear_lora(self) -> None:
        """Remove every adapter, leaving the base modules exactly as loaded."""
        self.pipeline.unload_lora_weights()
        self.active_lora = None

    @contextmanager
    def lora_fused(self, lora_scale: float) -> Iterator[None]:
        """The active LoRA merged into the denoiser's weights at `lora_scale` for the block, so each
        denoising step runs the base layers alone instead of adding the adapter's matmuls.

        unfuse_lora subtracts what fuse_lora added, which rounds differently (in bf16 visibly,
        in fp32 by an ulp here and there), and fusing at a scale other than 1 leaves the adapter's
        scaling multiplied. So the weights the LoRA touches, and its scalings, are copied before
        and written back after: the base model is bit for bit as loaded when the block ends,
        whatever happened in it. The copy is of the LoRA's target layers only (the attention
        projections), on the engine's device. Without an active LoRA the block runs as it is.
        """
        if self.active_lora is None:
            yield
            return
        import torch
        from peft.tuners.tuners_utils import BaseTunerLayer

        components = [self.model_family.denoiser_name]
        layers = [module for module in self.denoiser.modules() if isinstance(module, BaseTunerLayer)]
        saved_weights = [layer.get_base_layer().weight.detach().clone() for layer in layers]
        saved_scalings = [dict(layer.scaling) for layer in layers]
        try:
            self.pipeline.fuse_lora(components=components, lora_scale=lora_scale, adapter_names=[LORA_ADAPTER_NAME])
            yield
        finally:
            self.pipeline.unfuse_lora(components=components)
            with torch.no_grad():
                for layer, weight, scaling in zip(layers, saved_weights, saved_scalings, strict=True):
                    layer.get_base_layer().weight.copy_(weight)
                    layer.scaling.update(scaling)


_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        from .base_model import cuda_problem

        problem = cuda_problem(device)
        if problem is not None:
            raise problem
    return device


def resolve_dtype(device: str) -> "torch.dtype":
    """bf16 on a GPU that has it (fp16 otherwise), fp32 on the CPU where half precision is slow."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def get_engine(spec: EngineSpec) -> Engine:
    """The engine for `spec`, loaded on first use and kept for the life of the process.

    A model that cannot be loaded raises `base_model.ModelLoadError`, which names the problem
    and its fix.
    """
    if spec.family:
        family_named(spec.family)
    if spec.base_model == TINY_BASE_MODEL and not spec.family:
        spec = replace(spec, family=DEFAULT_FAMILY.name)
    device = resolve_device(spec.device)
    dtype = resolve_dtype(device)
    key = (replace(spec, device=device), str(dtype))
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _load_engine(spec, device=device, dtype=dtype)
            _engines[key] = engine
        return engine


def clear_engine_cache() -> None:
    """Forget every loaded engine (tests and benches use it to measure a cold start)."""
    with _engines_lock:
        _engines.clear()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _load_engine(spec: EngineSpec, *, device: str, dtype: "torch.dtype") -> Engine:
    started = time.perf_counter()
    is_tiny = spec.base_model == TINY_BASE_MODEL
    if is_tiny:
        pipeline, family = build_tiny_pipeline(seed=0, family=spec.family), spec.family
    else:
        from .base_model import load_base_model

        pipeline, family = load_base_model(spec, dtype=dtype)
    return engine_from_pipeline(
        pipeline,
        spec=replace(spec, family=family),
        device=device,
        dtype=dtype,
        label=TINY_LABEL if is_tiny else spec.base_model,
        is_tiny=is_tiny,
        started=started,
    )


def engine_from_pipeline(
    pipeline,
    *,
    spec: EngineSpec,
    device: str,
    dtype: "torch.dtype",
    label: str,
    is_tiny: bool = False,
    started: float | None = None,
) -> Engine:
    """Ready a constructed text-to-image pipeline for jobs: every engine, tiny or real, goes
    through here, and so does the benchmark's full-size random-weight model."""
    started = time.perf_counter() if started is None else started
    model_family = family_named(spec.family)
    if pipeline.dtype != dtype:
        pipeline.to(dtype=dtype)
    pipeline.to(device)
    model_family.ready_for_jobs(pipeline)
    for name in (model_family.denoiser_name, "vae", *model_family.text_encoder_names):
        module = getattr(pipeline, name)
        module.requires_grad_(False)
        module.eval()
    pipeline.set_progress_bar_config(disable=True)
    image_to_image = model_family.redraw_pipeline(pipeline)
    image_to_image.set_progress_bar_config(disable=True)

    resolution = spec.resolution or (TINY_RESOLUTION if is_tiny else model_family.default_resolution)
    return Engine(
        spec=spec,
        pipeline=pipeline,
        image_to_image=image_to_image,
        device=device,
        dtype=dtype,
        label=label,
        resolution=resolution,
        is_tiny=is_tiny,
        load_seconds=time.perf_counter() - started,
    )


def build_tiny_pipeline(seed: int = 0, *, family: str = DEFAULT_FAMILY.name):
    """The tiny engine's pipeline for `family` (families/<family>.py holds its configs): 64 px
    images, random weights drawn from `seed`, without touching the global RNG."""
    return family_named(family).build_tiny_pipeline(seed)
