"""`python manage.py likeness_model check [PATH_OR_ID]`: load the base model exactly as a GPU
worker does, print what it is and what it costs, and render one test image.

Exit status 1, with the problem and its fix, when the model cannot run here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from avatars.gpu.engine_config import engine_spec, render_engine_spec

GB = 1024**3


class Command(BaseCommand):
    help = "Check the base model a GPU worker would load: family, size, speed, memory, one test image."

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="subcommand", required=True)
        check = subcommands.add_parser("check", help=self.help)
        check.add_argument(
            "model",
            nargs="?",
            help="a .safetensors file, diffusers folder or hub id (default: LIKENESS_BASE_MODEL)",
        )
        check.add_argument(
            "--output",
            type=Path,
            default=settings.VAR_DIR / "likeness-model-check.png",
            help="where the test image goes (default: var/likeness-model-check.png)",
        )
        check.add_argument("--steps", type=int, default=25, help="sampling steps of the test image")

    def handle(self, *args, model=None, output: Path, steps: int, **options):
        from avatars.engine.base_model import ModelLoadError
        from avatars.engine.model_check import model_report, render_model_problem
        from avatars.engine.pipeline import get_engine
        from avatars.gpu.worker import training_samples

        spec = engine_spec()
        if model:
            spec = dataclasses.replace(spec, base_model=model)
        self.stdout.write(
            f"Loading {spec.base_model} (family: {spec.family or 'from the weights'}, "
            f"device: {spec.device})..."
        )
        try:
            engine = get_engine(spec)
            report = model_report(
                engine,
                image_path=output.resolve(),
                lora_rank=settings.LIKENESS_LORA_RANK,
                # A 20-photo avatar's optimizer steps, as a GPU worker would train it.
                avatar_steps=-(-training_samples(20) // settings.LIKENESS_TRAIN_BATCH_SIZE),
                render_steps=steps,
            )
            render_engine = engine
            if settings.LIKENESS_RENDER_MODEL and not model:
                self.stdout.write(f"Loading the render model {settings.LIKENESS_RENDER_MODEL}...")
                render_engine = get_engine(render_engine_spec())
                problem = render_model_problem(engine, render_engine)
                if problem is not None:
                    raise problem
        except ModelLoadError as error:
            raise CommandError(str(error)) from error
        self._print(report, tiny=engine.is_tiny)
        if render_engine is not engine:
            self.stdout.write(f"{'render model':<20}  {render_engine.label} (fits: the LoRA loads into it)")
        if report.problems:
            raise CommandError("\n".join(str(problem) for problem in report.problems))
        if not any(report.lora_targets.values()):
            raise CommandError(
                f"The denoiser has no layers named {', '.join(report.lora_targets)}: an avatar's LoRA would train "
                "nothing.\nFix: use a model of a family Likeness runs in diffusers' naming (any .safetensors "
                "fine-tune of one is converted to it on loading)."
            )
        self.stdout.write(self.style.SUCCESS("OK: a GPU worker can run this model."))

    def _print(self, report, *, tiny: bool) -> None:
        lines = [
            ("model", report.label),
            ("family", report.family),
            ("family name", report.family_name),
            ("LoRA loads with", report.lora_loader),
            ("resolution", f"{report.resolution} px"),
            (
                "device",
                report.device
                + (f" ({report.gpu_name}, {report.gpu_total_bytes / GB:.1f} GB)" if report.gpu_name else ""),
            ),
            ("dtype", report.dtype),
            ("load", f"{report.load_seconds:.2f} s"),
        ]
        lines += [(f"parameters, {name}", f"{count:,}") for name, count in report.parameters.items()]
        lines.append(
            (
                "LoRA target modules",
                ", ".join(f"{name} x{count}" for name, count in report.lora_targets.items()),
            )
        )
        lines += [(f"{name} length", str(length)) for name, length in report.tokenizer_lengths.items()]
        lines.append(("test render", f"{report.render_seconds:.2f} s"))
        if report.gpu_name:
            lines += [
                ("peak GPU memory, render", f"{report.render_peak_bytes / GB:.2f} GB"),
                ("peak GPU memory, training", f"{report.training_peak_bytes / GB:.2f} GB"),
                (
                    "training",
                    (
                        f"{report.training_seconds_per_step:.3f} s/step; an avatar of "
                        f"{report.avatar_steps} steps ~ {report.avatar_seconds:.0f} s"
                    ),
                ),
            ]
        else:
            lines.append(("GPU memory, training", "not measured (no GPU)"))
        what = " (tiny engine: not a real model, its images are coloured noise)" if tiny else ""
        lines.append(("test image", f"{report.image_path}{what}"))
        width = max(len(name) for name, _ in lines)
        for name, value in lines:
            self.stdout.write(f"{name:<{width}}  {value}")
