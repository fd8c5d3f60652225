"""The loaded base model: one diffusers pipeline per worker process, reused by every job.

A job only swaps the avatar's LoRA in and out (`Engine.use_lora`); the base weights stay
loaded between jobs, which is what makes the second job start in milliseconds instead of
the tens of seconds a real checkpoint takes to load.

The default base model is the *tiny engine*: a pipeline shaped like Stable Diffusion 1.5
(or SDXL, for the "sdxl" family), built from small configs in code with seeded random
weights and a tokenizer made in memory, so it needs no download. Its pictures are coloured
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

if TYPE_CHECKING:
    import torch

TINY_BASE_MODEL = "tiny"
TINY_LABEL = "tiny engine: not a real model"
FAMILIES = ("sd15", "sdxl")
DEFAULT_RESOLUTION = {"tiny": 64, "sd15": 512, "sdxl": 1024}
LORA_ADAPTER_NAME = "avatar"
CLIP_MAX_TOKENS = 77


@dataclass(frozen=True)
class EngineSpec:
    """What to load: "tiny", a diffusers folder, a hub id, or one single-file checkpoint
    (see `base_model.load_base_model`)."""

    base_model: str = TINY_BASE_MODEL
    family: str = ""  # "": the family the weights say (sd15 for the tiny engine)
    device: str = "auto"
    resolution: int = 0  # 0: 64 for the tiny engine, 512 for sd15, 1024 for sdxl
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
        return self.spec.family

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
        self.pipeline.unet.requires_grad_(False)
        self.active_lora = key

    def clear_lora(self) -> None:
        """Remove every adapter, leaving the base modules exactly as loaded."""
        self.pipeline.unload_lora_weights()
        self.active_lora = None

    @contextmanager
    def lora_fused(self, lora_scale: float) -> Iterator[None]:
        """The active LoRA merged into the UNet's weights at `lora_scale` for the block, so each
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

        layers = [module for module in self.pipeline.unet.modules() if isinstance(module, BaseTunerLayer)]
        saved_weights = [layer.get_base_layer().weight.detach().clone() for layer in layers]
        saved_scalings = [dict(layer.scaling) for layer in layers]
        try:
            self.pipeline.fuse_lora(components=["unet"], lora_scale=lora_scale, adapter_names=[LORA_ADAPTER_NAME])
            yield
        finally:
            self.pipeline.unfuse_lora(components=["unet"])
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
    if spec.family not in ("", *FAMILIES):
        raise ValueError(f"Unknown model family {spec.family!r}; expected one of {FAMILIES} or '' (detect)")
    if spec.base_model == TINY_BASE_MODEL and not spec.family:
        spec = replace(spec, family="sd15")
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
    from diffusers import DPMSolverMultistepScheduler
    from diffusers.models.attention_processor import AttnProcessor2_0

    started = time.perf_counter() if started is None else started
    # DPM-Solver++ gives a finished portrait in ~25 steps where the checkpoints' own PNDM needs 50.
    pipeline.scheduler = DPMSolverMultistepScheduler.from_config(pipeline.scheduler.config)
    if pipeline.dtype != dtype:
        pipeline.to(dtype=dtype)
    pipeline.to(device)
    pipeline.unet.set_attn_processor(AttnProcessor2_0())
    pipeline.vae.set_attn_processor(AttnProcessor2_0())
    for module in _frozen_modules(pipeline):
        module.requires_grad_(False)
        module.eval()
    pipeline.set_progress_bar_config(disable=True)
    image_to_image = _image_to_image_class(spec.family).from_pipe(pipeline)
    image_to_image.set_progress_bar_config(disable=True)

    resolution = spec.resolution or DEFAULT_RESOLUTION[TINY_BASE_MODEL if is_tiny else spec.family]
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


def _image_to_image_class(family: str):
    """The family's image-to-image pipeline class, named directly: AutoPipeline would import
    every pipeline diffusers has (seconds of start-up)."""
    if family == "sdxl":
        from diffusers import StableDiffusionXLImg2ImgPipeline

        return StableDiffusionXLImg2ImgPipeline
    from diffusers import StableDiffusionImg2ImgPipeline

    return StableDiffusionImg2ImgPipeline


def _frozen_modules(pipeline) -> list:
    names = ("unet", "vae", "text_encoder", "text_encoder_2")
    return [module for name in names if (module := getattr(pipeline, name, None)) is not None]


def build_tiny_tokenizer():
    """A CLIP tokenizer whose vocabulary is the 256 byte-level symbols (each also as a word
    end) and no merges: every prompt tokenizes, one symbol per token, with no files."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    alphabet = sorted(ByteLevel.alphabet())
    for symbol in alphabet + [symbol + "</w>" for symbol in alphabet]:
        vocab.setdefault(symbol, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=CLIP_MAX_TOKENS)


# The tiny engine's shapes, the same whichever family it is shaped like. Attention only at
# 16x16 latents: at 32x32 it would be most of the cost.
TINY_UNET_CONFIG = {
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": (32, 64),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    "attention_head_dim": 4,
    "norm_num_groups": 8,
}
TINY_VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 8,
    "sample_size": 64,
}
TINY_TEXT_WIDTH = 32
# SDXL's second encoder is wider than its first (1280 against 768), and diffusers' single-file
# loader tells the two apart by that width: so is the tiny one's.
TINY_SDXL_SECOND_TEXT_WIDTH = 48
# SDXL's UNet also adds to its time embedding the caption's pooled embedding and six
# size-and-crop numbers (original size, crop's top left, target size), each embedded in
# this many dimensions. Its SDXL-only settings are those of diffusers' own tiny SDXL
# (tests/pipelines/stable_diffusion_xl/test_stable_diffusion_xl.py).
TINY_SDXL_TIME_EMBED_DIM = 8
SDXL_TIME_IDS = 6
TINY_UNET_FAMILY_CONFIG = {
    "sd15": {"cross_attention_dim": TINY_TEXT_WIDTH},
    "sdxl": {
        # Both text encoders' hidden states side by side.
        "cross_attention_dim": TINY_TEXT_WIDTH + TINY_SDXL_SECOND_TEXT_WIDTH,
        "use_linear_projection": True,
        "transformer_layers_per_block": (1, 2),
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": TINY_SDXL_TIME_EMBED_DIM,
        "projection_class_embeddings_input_dim": (
            SDXL_TIME_IDS * TINY_SDXL_TIME_EMBED_DIM + TINY_SDXL_SECOND_TEXT_WIDTH
        ),
    },
}


# The noise schedule SD 1.5 and SDXL were trained with; rendering swaps in a faster sampler from it.
TRAINING_NOISE_SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}


def build_tiny_pipeline(seed: int = 0, *, family: str = "sd15"):
    """A pipeline shaped like SD 1.5 (or SDXL: two text encoders, the second one's pooled
    output and size-and-crop ids added to the UNet's time embedding), from small configs with
    random weights drawn from `seed`.

    64 px images, 32 px latents; a full render or training step takes milliseconds on a CPU.
    The same seed always builds the same weights, without touching the global RNG.
    """
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = build_tiny_tokenizer()

    def text_config(width: int):
        return CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=CLIP_MAX_TOKENS,
            projection_dim=width,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**TINY_UNET_CONFIG, **TINY_UNET_FAMILY_CONFIG[family])
        vae = AutoencoderKL(**TINY_VAE_CONFIG)
        text_encoders = [CLIPTextModel(text_config(TINY_TEXT_WIDTH))]
        if family == "sdxl":
            text_encoders.append(CLIPTextModelWithProjection(text_config(TINY_SDXL_SECOND_TEXT_WIDTH)))
    return pipeline_from_modules(
        family,
        unet=unet,
        vae=vae,
        text_encoders=text_encoders,
        tokenizer=tokenizer,
        scheduler=DDPMScheduler(**TRAINING_NOISE_SCHEDULE),
    )


def pipeline_from_modules(family: str, *, unet, vae, text_encoders: list, tokenizer, scheduler):
    """The family's text-to-image pipeline around modules built in code (the tiny engine, the
    bench's full-size models): SD 1.5 takes one text encoder, SDXL two; one tokenizer serves
    them all."""
    if family == "sdxl":
        from diffusers import StableDiffusionXLPipeline

        text_encoder, text_encoder_2 = text_encoders
        return StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
        )
    from diffusers import StableDiffusionPipeline

    (text_encoder,) = text_encoders
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
