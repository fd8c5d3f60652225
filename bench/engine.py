"""Engine benchmark: pipeline acquisition cold vs warm, and a small avatar job.

Default (the tiny engine, CPU): imports, a cold get_engine, a warm one, and two jobs
(acquire the engine, train a LoRA a few steps, render a portrait) back to back, the first
cold, the second warm with a different avatar swapped in. Goal: the second job gets its
pipeline >= 10x faster than the first. Then the production-shaped portrait (below), shrunk
as the tiny engine shrinks every size.

--full (meant for a CUDA machine; no download): a full-size SD 1.5 UNet, VAE and text
encoder built from their configs with random weights, readied by the same
engine_from_pipeline as any real model, then trained with train_lora (the recipe's
defaults: batch 4, UNet LoRA rank 32, text-encoder LoRA rank 32, 512 px, bf16), once without
and once with gradient checkpointing, and rendered with render (25 steps, 512x512). Prints,
for each training: seconds per step and per sample, samples/s, the projected time of a
20-photo avatar (3,200 samples, 8 validations), peak allocated and reserved GPU memory and
the seconds of one validation pass (4 renders scored by the real likeness scorer); then
seconds per portrait, each next to its goal (one H100: avatar <= 60 s, portrait <= 0.7 s,
peak memory <= 12 GB), with the GPU's name and the torch, diffusers and peft versions, and a
bare render of the base model (goal <= 0.5 s). Timings are taken after
torch.cuda.synchronize(). Random weights cost exactly what trained ones do.

Both print the production-shaped portrait: 2 candidates at 512x640, each scored by the real
scorer (safety check and face search), the face pass on a box where a half-body portrait's
face sits (random weights draw no face to detect), the high-resolution pass to 1024 px;
seconds per stage, and the whole with the LoRA fused (as jobs render) and unfused (goal on
one H100: <= 2 s fused).

--family sdxl|zimage|flux2_klein: the same for that family (its tiny engine; with --full,
its full-size architecture from configs in code or shipped: SDXL base 1.0's UNet, VAE and
two text encoders; Z-Image's 6B transformer, FLUX.1's VAE and Qwen3-4B; FLUX.2 klein 4B's
transformer, its VAE and Qwen3-4B; all at 1024 px). The goals above are SD 1.5's; issue 27's
for the transformer families on one H100 are printed beside their figures (Z-Image avatar
<= 8 min, klein <= 5 min, peak memory <= 40 GB, MFU >= 40%, a 1024 px portrait <= 1.5 s on
Z-Image Turbo's 8 steps).

--full also prints MFU: the FLOPs of one training step (forward and backward at the chosen
micro-batch, counted by torch.utils.flop_counter.FlopCounterMode), times the steps per
second, over the card's dense bf16 peak (DENSE_BF16_PEAK_TFLOPS in engine_measures.py; the full-size
models are built in engine_models.py).

    .venv/bin/python bench/engine.py [--family zimage] [--threads 1]
    .venv/bin/python bench/engine.py --full [--family zimage] [--steps 100] [--batch-size 4] [--no-gradient-checkpointing]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatars.engine.families import FAMILIES, family  # noqa: E402
from avatars.engine.pipeline import (  # noqa: E402  (the project root has to be on the path first)
    EngineSpec,
    clear_engine_cache,
    engine_from_pipeline,
    get_engine,
    resolve_device,
    resolve_dtype,
)
from avatars.engine.rendering import render  # noqa: E402
from avatars.engine.training import (  # noqa: E402
    BATCH_SIZE,
    RANK,
    TEXT_ENCODER_RANK,
    training_samples_for,
)
from avatars.engine.validation import VALIDATION_SEEDS  # noqa: E402
from bench.engine_measures import (  # noqa: E402
    AVATAR_PHOTOS,
    PROMPT,
    STAGES,
    dense_bf16_peak_flops,
    measure_production_portraits,
    projected_avatar_seconds,
    synchronize,
    synthetic_photos,
    timed,
    training_step_flops,
    training_timing,
    warmed_scorer,
)
from bench.engine_models import FULL_SIZE, import_diffusers  # noqa: E402

GOAL_WARM_SPEEDUP = 10.0
GOAL_AVATAR_SECONDS = 60.0
GOAL_PORTRAIT_SECONDS = 0.7
GOAL_PEAK_TRAINING_GB = 12.0
# Issue 15's goals on one H100: a bare 25-step 512 px render, and the production-shaped portrait.
GOAL_BARE_RENDER_SECONDS = 0.5
GOAL_PRODUCTION_PORTRAIT_SECONDS = 2.0
# The site's defaults (LIKENESS_PORTRAITS_PER_STYLE) and a typical purchase, for the GPU time
# a purchase's first portraits take.
PORTRAITS_PER_STYLE = 4
STYLES_PER_PURCHASE = 3
# Issue 27's goals for the transformer families on one H100.
GOAL_FLOW_AVATAR_SECONDS = {"zimage": 8 * 60, "flux2_klein": 5 * 60}
GOAL_FLOW_PEAK_GB = 40.0
GOAL_MFU = 0.40
GOAL_TURBO_PORTRAIT_SECONDS = 1.5


def tiny_job(spec: EngineSpec, *, folder: Path, avatar: int, args) -> dict[str, float]:
    engine, acquire_seconds = timed(get_engine, spec)
    photos = synthetic_photos(5, size=engine.resolution, seed=avatar)
    timing = training_timing(engine, photos, folder=folder, avatar=avatar, args=args)
    _, render_seconds = timed(
        render,
        engine,
        lora_path=timing["lora_path"],
        identity_token="sks",
        subject_class="person",
        prompt=PROMPT,
        steps=args.render_steps,
        seed=avatar,
    )
    return {"acquire": acquire_seconds, **timing, "render": render_seconds}


def print_production_portraits(figures: dict) -> None:
    print(
        f"\nproduction-shaped portrait: 2 candidates at 512x640, {figures['steps']} steps, face pass, "
        f"hires to {figures['size']}, scoring"
    )
    for name in STAGES:
        print(f"  {name + ' stage':<24} {figures[name]:10.3f} s")
    print(
        f"  {'total, LoRA fused':<24} {figures['total']:10.3f} s   "
        f"(goal <= {GOAL_PRODUCTION_PORTRAIT_SECONDS} s on one H100; median of {figures['renders']})"
    )
    print(f"  {'total, LoRA unfused':<24} {figures['total unfused']:10.3f} s")
    # What a purchase's first portraits cost the GPU: each chosen style renders
    # PORTRAITS_PER_STYLE portraits like the one above (the site's LIKENESS_PORTRAITS_PER_STYLE).
    per_style = figures["total"] * PORTRAITS_PER_STYLE
    print(
        f"  {'a style, ' + str(PORTRAITS_PER_STYLE) + ' portraits':<24} {per_style:10.3f} s   "
        f"(a purchase of {STYLES_PER_PURCHASE} styles: {per_style * STYLES_PER_PURCHASE:.1f} s)"
    )


def bench_tiny(args) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    spec = EngineSpec(base_model="tiny", family=args.family, device=args.device or "cpu")
    clear_engine_cache()
    device = resolve_device(spec.device)
    print(f"tiny {args.family} engine on {device}, {torch.get_num_threads()} torch threads")

    # A worker's first job also pays for importing diffusers and transformers; shown apart,
    # since a real checkpoint's load (tens of seconds) would dwarf it.
    _, import_seconds = timed(import_diffusers)
    _, cold_seconds = timed(get_engine, spec)
    _, warm_seconds = timed(get_engine, spec)
    print(f"import diffusers (once)    {import_seconds * 1000:10.2f} ms")
    print(f"get_engine cold            {cold_seconds * 1000:10.2f} ms")
    print(f"get_engine warm            {warm_seconds * 1000:10.4f} ms")
    print(f"cold / warm                {cold_seconds / warm_seconds:10.0f} x   (goal >= {GOAL_WARM_SPEEDUP:.0f} x)")

    clear_engine_cache()
    args.scorer = warmed_scorer()
    with tempfile.TemporaryDirectory() as folder:
        jobs = [tiny_job(spec, folder=Path(folder), avatar=avatar, args=args) for avatar in (1, 2)]
        samples = args.steps * args.batch_size
        print(
            f"\ntwo jobs, each: get the pipeline, train {args.steps} steps of {args.batch_size} ({samples} samples, "
            f"validated once: {len(VALIDATION_SEEDS)} renders), render one {args.render_steps}-step portrait"
        )
        print("                           job 1 (cold)   job 2 (warm)")
        for figure in ("acquire", "train", "setup", "validation", "render"):
            print(f"{figure:<26} {jobs[0][figure]:12.3f} s {jobs[1][figure]:12.3f} s")
        for figure in ("step", "sample"):
            print(f"training per {figure:<13} {jobs[0][figure] * 1000:11.2f} ms {jobs[1][figure] * 1000:11.2f} ms")
        speedup = jobs[0]["acquire"] / jobs[1]["acquire"]
        print(f"pipeline acquisition, job 1 / job 2: {speedup:.0f} x   (goal >= {GOAL_WARM_SPEEDUP:.0f} x)")
        print_production_portraits(
            measure_production_portraits(
                get_engine(spec), jobs[1]["lora_path"], steps=args.render_steps, renders=args.renders
            )
        )


def bench_full(args) -> None:
    import torch

    device = resolve_device(args.device or "auto")
    dtype = resolve_dtype(device)
    on_gpu = device.startswith("cuda")
    build, resolution, family_name = FULL_SIZE[args.family]
    spec = EngineSpec(
        base_model=f"random-{args.family}-full", family=args.family, device=device, resolution=resolution
    )
    pipeline, build_seconds = timed(build, device)
    label = f"full-size {family_name}, random weights (bench)"
    engine = engine_from_pipeline(pipeline, spec=spec, device=device, dtype=dtype, label=label)
    name = torch.cuda.get_device_name(device) if on_gpu else "CPU"
    print(f"{label} on {device} ({name}), {dtype}; built in {build_seconds:.1f} s")
    parameters = sum(parameter.numel() for parameter in engine.denoiser.parameters())
    print(f"{engine.model_family.denoiser_name} parameters{'':<{15 - len(engine.model_family.denoiser_name)}}{parameters / 1e6:10.0f} M")

    args.scorer = warmed_scorer()
    photos = synthetic_photos(args.photos, size=resolution, seed=0)
    checkpointing_runs = (False,) if args.no_gradient_checkpointing else (False, True)
    with tempfile.TemporaryDirectory() as folder:
        timings = [
            training_timing(
                engine, photos, folder=Path(folder), avatar=0, args=args, gradient_checkpointing=checkpointing
            )
            for checkpointing in checkpointing_runs
        ]
        lora_path = timings[-1]["lora_path"]
        lora_mb = lora_path.stat().st_size / 1024**2

        render_arguments = {
            "lora_path": lora_path,
            "identity_token": "sks",
            "subject_class": "person",
            "prompt": PROMPT,
            "steps": args.render_steps,
            "width": resolution,
            "height": resolution,
            "guidance_scale": engine.model_family.default_guidance,
        }
        render(engine, **{**render_arguments, "steps": 2})
        portrait_seconds = []
        for seed in range(args.renders):
            synchronize(engine)
            _, seconds = timed(render, engine, **render_arguments, seed=seed)
            portrait_seconds.append(seconds)
        bare_seconds = []
        for seed in range(args.renders):
            synchronize(engine)
            _, seconds = timed(render, engine, **{**render_arguments, "lora_path": None}, seed=seed)
            bare_seconds.append(seconds)
        production = measure_production_portraits(
            engine, lora_path, steps=args.render_steps, renders=args.renders
        )
        step_flops = training_step_flops(
            engine, photos, batch_size=args.batch_size, micro_batch_size=timings[0]["micro_batch_size"]
        )

    print_full_training(args, timings, resolution=resolution, device=device)
    peak = dense_bf16_peak_flops(name)
    for timing in timings:
        achieved = step_flops / timing["step"]
        mfu = f"{achieved / peak:.1%} of {peak / 1e12:.0f} TFLOPS dense bf16" if peak else "(card's peak unknown)"
        print(
            f"MFU, checkpointing {'on' if timing['gradient_checkpointing'] else 'off':<4}    {achieved / 1e12:8.1f} TFLOPS  "
            f"{mfu}   (step: {step_flops / 1e12:.1f} TFLOP; goal >= {GOAL_MFU:.0%})"
        )
    if args.family in GOAL_FLOW_AVATAR_SECONDS:
        print(
            f"goals ({family_name}, one H100): avatar <= {GOAL_FLOW_AVATAR_SECONDS[args.family] / 60:.0f} min, "
            f"peak memory <= {GOAL_FLOW_PEAK_GB:.0f} GB, MFU >= {GOAL_MFU:.0%}, "
            f"1024 px portrait <= {GOAL_TURBO_PORTRAIT_SECONDS} s (Z-Image Turbo, 8 steps: --render-steps 8)"
        )
    print(f"LoRA file                  {lora_mb:10.1f} MB")
    print(
        f"portrait, {args.render_steps} steps {resolution}x{resolution}  "
        f"{statistics.median(portrait_seconds):6.3f} s   "
        f"(goal <= {GOAL_PORTRAIT_SECONDS} s; median of {args.renders})"
    )
    print(
        f"bare render, {args.render_steps} steps {resolution}x{resolution}  "
        f"{statistics.median(bare_seconds):6.3f} s   (goal <= {GOAL_BARE_RENDER_SECONDS} s; median of {args.renders})"
    )
    print_production_portraits(production)


def print_full_training(args, timings: list[dict], *, resolution: int, device: str) -> None:
    import diffusers
    import peft
    import torch

    on_gpu = device.startswith("cuda")
    gpu = torch.cuda.get_device_name(device) if on_gpu else "no GPU"
    print(f"{gpu}; torch {torch.__version__}, diffusers {diffusers.__version__}, peft {peft.__version__}")
    print(
        f"training: {args.photos} photos, {resolution} px, batch {args.batch_size}, UNet LoRA rank {args.rank}, "
        f"text-encoder LoRA rank {args.text_encoder_rank}; steady figures over steps 2-{args.steps}"
    )
    print("gradient checkpointing     " + "".join(f"{'on' if t['gradient_checkpointing'] else 'off':>14}" for t in timings))
    print("micro-batch (chosen)       " + "".join(f"{t['micro_batch_size']:>14}" for t in timings))
    rows = [
        ("seconds per step", lambda t: f"{t['step']:12.3f} s"),
        ("seconds per sample", lambda t: f"{t['sample']:12.3f} s"),
        ("samples/s", lambda t: f"{1 / t['sample']:14.1f}"),
        ("setup", lambda t: f"{t['setup']:12.1f} s"),
        (f"validation ({len(VALIDATION_SEEDS)} renders)", lambda t: f"{t['validation']:12.2f} s"),
        ("peak allocated", lambda t: f"{t['peak allocated']:11.2f} GB"),
        ("peak reserved", lambda t: f"{t['peak reserved']:11.2f} GB"),
        (
            f"avatar, {training_samples_for(AVATAR_PHOTOS)} samples (proj.)",
            lambda t: f"{projected_avatar_seconds(t, args.batch_size):12.1f} s",
        ),
    ]
    for name, cell in rows:
        print(f"{name:<27}" + "".join(cell(timing) for timing in timings))
    print(
        f"goals: avatar <= {GOAL_AVATAR_SECONDS:.0f} s (one H100, validation included), "
        f"peak memory <= {GOAL_PEAK_TRAINING_GB:.0f} GB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="full-size model with random weights (for a GPU)")
    parser.add_argument("--family", choices=list(FAMILIES), default="sd15", help="default: sd15")
    parser.add_argument("--device", help="cpu, cuda, auto (default: cpu for the tiny engine, auto for --full)")
    parser.add_argument("--steps", type=int, help="training steps (default: 10 tiny, 100 full)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"samples per step (default: {BATCH_SIZE})")
    parser.add_argument("--micro-batch-size", type=int, help="default: the largest that fits")
    parser.add_argument("--rank", type=int, default=RANK, help=f"UNet LoRA rank (default: {RANK})")
    parser.add_argument(
        "--text-encoder-rank", type=int, default=TEXT_ENCODER_RANK, help=f"0: UNet only (default: {TEXT_ENCODER_RANK})"
    )
    parser.add_argument("--render-steps", type=int, help="default: the family's steps (25 for SD)")
    parser.add_argument("--renders", type=int, default=3, help="portraits timed (each kind)")
    parser.add_argument("--photos", type=int, default=20, help="training photos with --full")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--no-gradient-checkpointing", action="store_true", help="with --full: only the training without it")
    args = parser.parse_args()
    args.render_steps = args.render_steps or family(args.family).default_steps
    if args.full:
        args.steps = args.steps or 100
        bench_full(args)
    else:
        args.steps = args.steps or 10
        bench_tiny(args)


if __name__ == "__main__":
    main()
