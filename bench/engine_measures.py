"""The engine bench's measures: stand-in photos, a timed training, the production-shaped portrait, a step's FLOPs."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from avatars.engine.rendering import render
from avatars.engine.scoring import portrait_scorer
from avatars.engine.training import LoraTrainer, TrainingSettings, train_lora, training_samples_for

# The avatar the goal is about: 20 photos, the recipe's samples, validated every 400 samples
# (EasyPhoto's 100 steps of 4).
AVATAR_PHOTOS = 20
AVATAR_VALIDATE_EVERY = 400
PROMPT = "studio portrait photo of {identity}, soft window light, 85mm"
STAGES = ("base", "face", "hires")
# Dense (not sparse) bf16 tensor-core peaks from NVIDIA's data sheets, by a name's substring.
DENSE_BF16_PEAK_TFLOPS = {"H200": 989.4, "H100 PCIe": 756.0, "H100": 989.4, "A100": 312.0, "L40S": 362.1}


def synthetic_photos(count: int, *, size: int, seed: int):
    """Deterministic stand-ins for cropped selfies: the cost of training does not depend on
    what the pixels show."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    photos = []
    for _ in range(count):
        base = rng.uniform(40, 215, size=3)
        tilt = rng.uniform(-60, 60, size=3)
        pixels = base + tilt * (x[..., None] - y[..., None]) + rng.normal(0, 12, size=(size, size, 3))
        photos.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB"))
    return photos


def synchronize(engine) -> None:
    import torch

    if engine.device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def training_timing(engine, photos, *, folder: Path, avatar: int, args, gradient_checkpointing=None) -> dict:
    """One training of `args.steps` steps of `args.batch_size`, validated once at the end.

    The steady time per step is taken between the end of the first step's last micro-batch
    and the end of the last step's, both after torch.cuda.synchronize(): it leaves out the
    setup, the first step's warm-up and the validation, which are reported apart.
    """
    import torch

    on_gpu = engine.device.startswith("cuda")
    samples = args.steps * args.batch_size
    marks: dict[str, float] = {}

    def record(samples_seen: int, total_samples: int, loss: float) -> None:
        mark = {args.batch_size: "first step", total_samples: "last step"}.get(samples_seen)
        if mark is not None and mark not in marks:
            synchronize(engine)
            marks[mark] = time.perf_counter()

    if on_gpu:
        torch.cuda.reset_peak_memory_stats(engine.device)
    synchronize(engine)
    trained, seconds = timed(
        train_lora,
        engine,
        photos,
        identity_token="sks",
        subject_class="person",
        output_path=folder / f"avatar-{avatar}-{gradient_checkpointing}.safetensors",
        samples=samples,
        batch_size=args.batch_size,
        micro_batch_size=args.micro_batch_size,
        rank=args.rank,
        text_encoder_rank=args.text_encoder_rank,
        validate_every=samples,
        score=args.scorer,
        seed=avatar,
        gradient_checkpointing=gradient_checkpointing,
        progress=record,
    )
    synchronize(engine)
    if args.steps > 1:
        step_seconds = (marks["last step"] - marks["first step"]) / (args.steps - 1)
    else:
        step_seconds = seconds - trained.validation_seconds
    return {
        "lora_path": trained.lora_path,
        "micro_batch_size": trained.micro_batch_size,
        "gradient_checkpointing": trained.gradient_checkpointing,
        "train": seconds,
        "setup": max(0.0, seconds - trained.validation_seconds - args.steps * step_seconds),
        "step": step_seconds,
        "sample": step_seconds / args.batch_size,
        "validation": trained.validation_seconds,
        "peak allocated": torch.cuda.max_memory_allocated(engine.device) / 1024**3 if on_gpu else float("nan"),
        "peak reserved": torch.cuda.max_memory_reserved(engine.device) / 1024**3 if on_gpu else float("nan"),
    }


def projected_avatar_seconds(timing: dict, batch_size: int) -> float:
    """A 20-photo avatar: the recipe's samples in steps of `batch_size`, a validation every
    400 samples, the same setup."""
    samples = training_samples_for(AVATAR_PHOTOS)
    steps = -(-samples // batch_size)
    validations = -(-steps * batch_size // AVATAR_VALIDATE_EVERY)
    return timing["setup"] + steps * timing["step"] + validations * timing["validation"]


def warmed_scorer():
    """The real likeness scorer, its face and nudity models loaded before anything is timed."""
    from PIL import Image

    score = portrait_scorer([0.0] * 128)
    score(Image.new("RGB", (64, 64)))
    return score


def centre_face(image):
    """Where a half-body portrait's face sits: random weights draw none for a detector to find,
    and the face pass costs the same wherever its box is."""
    width, height = image.size
    return round(width * 0.35), round(height * 0.2), round(width * 0.65), round(height * 0.5)


def production_portrait(engine, lora_path: Path, *, steps: int, seed: int, fuse_lora: bool = True):
    """The shape of a customer's portrait: 2 candidates at 512x640, scored, the face pass, the
    high-resolution pass to the family's output size (1024 px for SD 1.5; shrunk on the tiny
    engine like its render size)."""
    return render(
        engine,
        lora_path=lora_path,
        identity_token="sks",
        subject_class="person",
        prompt=PROMPT,
        steps=steps,
        width=512,
        height=640,
        candidates=2,
        seed=seed,
        # A real centroid's length: the scorer runs its safety check and face search in full.
        score=portrait_scorer([0.01] * 128),
        find_face=centre_face,
        # The family's default: twice its native size (1024 px for SD 1.5).
        output_long_side=0,
        fuse_lora=fuse_lora,
    )


def measure_production_portraits(engine, lora_path: Path, *, steps: int, renders: int) -> dict:
    """Median seconds of each stage and of the whole production-shaped portrait, fused and not."""
    production_portrait(engine, lora_path, steps=2, seed=0)
    timings = {name: [] for name in (*STAGES, "total", "total unfused")}
    for seed in range(renders):
        for fused in (True, False):
            synchronize(engine)
            result, seconds = timed(production_portrait, engine, lora_path, steps=steps, seed=seed, fuse_lora=fused)
            if not fused:
                timings["total unfused"].append(seconds)
                continue
            timings["total"].append(seconds)
            for stage in result.stages:
                timings[stage.stage].append(stage.seconds)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return {**medians, "steps": steps, "renders": renders, "size": "x".join(str(side) for side in result.image.size)}


def training_step_flops(engine, photos, *, batch_size: int, micro_batch_size: int) -> int:
    """The FLOPs of one optimizer step (forward and backward of the denoiser with its LoRA), as
    torch.utils.flop_counter counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    trainer = LoraTrainer(
        engine, photos[:batch_size], caption="a photo of sks person", identity=("sks", "person"),
        settings=TrainingSettings(batch_size=batch_size, micro_batch_size=micro_batch_size),
    )
    with engine.lock:
        try:
            trainer.prepare()
            batch = trainer.draw_batch()
            with FlopCounterMode(display=False) as counter:
                trainer.take_step(1, batch, micro_batch_size)
            return counter.get_total_flops()
        finally:
            trainer.release()


def dense_bf16_peak_flops(device_name: str) -> float | None:
    for name, tflops in DENSE_BF16_PEAK_TFLOPS.items():
        if name in device_name:
            return tflops * 1e12
    return None
