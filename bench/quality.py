"""Quality report: one person's photos through intake, training, every seeded template with
every pass, and "more like me" clicked twice on each, with likeness measured at every stage.

    .venv/bin/python bench/quality.py --photos DIR [--templates slug,...] [--json PATH] [--sheet PATH]
        [--examples DIR --consent "how the person in the photos agreed to be shown"]

It runs on the configured model (LIKENESS_BASE_MODEL, LIKENESS_MODEL_FAMILY, LIKENESS_DEVICE,
as the workers read them), which is the tiny engine unless set: its renders have no face,
so every likeness reads "not measured" there, and the report only shows that the stages
run and what they cost. An operator with a GPU and a real model gets the figures that
matter: per template the likeness after the base render, the face pass, the
high-resolution pass and each click, and the seconds of each stage.

Django is set up only to read the seeded template definitions and the engine settings;
nothing touches the database. The JSON report has the training curve and the checkpoint
kept, and per template every stage with its likeness, size and seconds; the contact sheet
has a row per template: the portrait, then each click's version (kept or not).

With --examples, each template's best version (the closest kept, by likeness) is written as
a candidate example for its style page (<slug>.png) with examples.json: the likeness, the
engine and the consent given. The photos must be of a person who agreed to be shown, and
--consent says how; the operator then adds the ones worth showing on each style's page in the
admin, with that note. On the tiny engine the candidates show nobody: their names start
"tiny-engine-" and examples.json says "test_output": true, so they can't pass for examples.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portrait_site.settings")

import django  # noqa: E402  (the project root has to be on the path first)

django.setup()

from avatars.engine.duplicates import KnownPhoto  # noqa: E402
from avatars.engine.face_crops import aligned_face_crop  # noqa: E402
from avatars.engine.intake import check_photo  # noqa: E402
from avatars.engine.more_like_me import is_more_like, more_like_me_parameters  # noqa: E402
from avatars.engine.photo_sets import identity_centroid  # noqa: E402
from avatars.engine.pipeline import get_engine  # noqa: E402
from avatars.engine.rendering import render, render_arguments  # noqa: E402
from avatars.engine.scoring import largest_face_finder, portrait_scorer  # noqa: E402
from avatars.engine.training import train_lora  # noqa: E402
from avatars.gpu.engine_config import engine_spec  # noqa: E402
from styles.management.commands.seed_likeness import NEGATIVE_PROMPT, PROMPT_OPENING, TEMPLATES  # noqa: E402
from styles.models import StyleTemplate  # noqa: E402

CLICKS = 2
IDENTITY_TOKEN = "lksq7a1"
TILE_HEIGHT = 256


def intake(folder: Path) -> tuple[list, list[list[float]], list[dict]]:
    """The folder's photos through the site's intake: the accepted ones as training crops
    (the model's size, as the training job crops them), their embeddings, and every verdict."""
    from PIL import Image

    known: list[KnownPhoto] = []
    accepted, embeddings, verdicts = [], [], []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        verdict = check_photo(path.read_bytes(), known=known)
        verdicts.append({"photo": path.name, "accepted": verdict.accepted, "reason": verdict.reason_code})
        if not verdict.accepted:
            continue
        known.append(KnownPhoto(key=path.name, perceptual_hash=verdict.perceptual_hash, embedding=verdict.embedding))
        with Image.open(io.BytesIO(verdict.cleaned_image)) as image:
            accepted.append((image.convert("RGB"), verdict.face_box))
        embeddings.append(verdict.embedding)
    return accepted, embeddings, verdicts


def train_avatar(engine, photos, *, output_path: Path, samples: int, score, seed: int) -> dict:
    """Train the avatar as a job does (the recipe's defaults, validated by the likeness scorer,
    the best checkpoint kept) and describe it for the report."""
    trained = train_lora(
        engine,
        photos,
        identity_token=IDENTITY_TOKEN,
        subject_class="person",
        output_path=output_path,
        samples=samples,
        # Four validations over the run, as the curve's points.
        validate_every=max(4, samples // 4),
        score=score,
        seed=seed,
    )
    chosen = trained.chosen
    return {
        "lora_path": trained.lora_path,
        "samples": trained.samples,
        "steps": trained.steps,
        "final_loss": round(trained.final_loss, 5),
        "seconds": round(trained.seconds, 2),
        "validation_seconds": round(trained.validation_seconds, 2),
        "curve": [dataclasses.asdict(point) for point in trained.curve],
        "checkpoint": (
            f"after {chosen.samples} samples (likeness {chosen.mean_likeness:.1f})" if chosen is not None
            else f"the last, after {trained.samples} samples (likeness not measured)"
        ),
    }


def template_definitions(slugs: list[str] | None) -> list[dict]:
    """The seeded templates as render arguments; the pass settings are the model's defaults,
    which a seeded template starts with."""
    field_default = {name: StyleTemplate._meta.get_field(name).default for name in
                     ("face_strength", "output_long_side", "hires_strength")}
    definitions = []
    for slug, title, *_, look, _colours in TEMPLATES:
        if slugs and slug not in slugs:
            continue
        definitions.append({"slug": slug, "title": title, "prompt": PROMPT_OPENING + look, **field_default})
    if slugs and len(definitions) != len(slugs):
        known = {entry[0] for entry in TEMPLATES}
        raise SystemExit(f"Unknown template(s): {', '.join(sorted(set(slugs) - known))}")
    return definitions


def render_template(engine, template: dict, *, lora_path: Path, score, find_face, args) -> dict:
    arguments = {
        "identity_token": IDENTITY_TOKEN,
        "subject_class": "person",
        "prompt": template["prompt"],
        "negative_prompt": NEGATIVE_PROMPT,
        "guidance_scale": 6.5,
        "steps": args.render_steps,
        "width": 512,
        "height": 640,
        "seed": args.seed,
        "candidates": args.candidates,
        "face_strength": template["face_strength"],
        "output_long_side": template["output_long_side"],
        "hires_strength": template["hires_strength"],
    }
    result, seconds = _timed(render, engine, lora_path=lora_path, score=score, find_face=find_face, **arguments)
    portrait = {"result": result, "seconds": seconds}
    source, clicks = result, []
    for _ in range(CLICKS):
        moved = render_arguments(more_like_me_parameters(source.parameters))
        candidate, click_seconds = _timed(
            render, engine, lora_path=lora_path, score=score, find_face=find_face, **moved
        )
        verdict = is_more_like(candidate.likeness, source.likeness)
        clicks.append({"result": candidate, "seconds": click_seconds, "verdict": verdict})
        if verdict.keep:
            source = candidate
    return {"template": template, "portrait": portrait, "clicks": clicks}


def report_entry(rendered: dict) -> dict:
    result = rendered["portrait"]["result"]
    return {
        "slug": rendered["template"]["slug"],
        "seconds": round(rendered["portrait"]["seconds"], 3),
        "likeness": result.likeness,
        "size": list(result.image.size),
        "stages": [stage.as_dict() for stage in result.stages],
        "parameters": {name: result.parameters[name] for name in
                       ("seed", "lora_scale", "strength", "guidance_scale", "face_strength",
                        "output_long_side", "hires_strength", "steps", "candidates")},
        "more_like_me": [
            {
                "likeness": click["result"].likeness,
                "kept": click["verdict"].keep,
                "measured": click["verdict"].measured,
                "reason": click["verdict"].reason,
                "seconds": round(click["seconds"], 3),
                "lora_scale": click["result"].parameters["lora_scale"],
                "face_strength": click["result"].parameters["face_strength"],
            }
            for click in rendered["clicks"]
        ],
    }


def print_table(entries: list[dict]) -> None:
    def likeness(value) -> str:
        return "   –" if value is None else f"{value:4.1f}"

    stage_names = ("base", "face", "hires")
    header = "template               " + "".join(f"{name:>7}" for name in stage_names)
    header += "".join(f"{'click ' + str(index + 1):>9}" for index in range(CLICKS))
    header += "   seconds: " + " ".join(f"{name:>6}" for name in stage_names) + "  clicks"
    print(header)
    for entry in entries:
        stages = {stage["stage"]: stage for stage in entry["stages"]}
        row = f"{entry['slug']:<23}"
        for name in stage_names:
            stage = stages.get(name)
            if stage is None:
                cell = "-"
            elif not stage["kept"] and stage["likeness"] is None:
                cell = "skip"
            else:
                cell = likeness(stage["likeness"]) + ("" if stage["kept"] else "x")
            row += f"{cell:>7}"
        for click in entry["more_like_me"]:
            row += f"{likeness(click['likeness']) + ('' if click['kept'] else 'x'):>9}"
        row += "            " + " ".join(
            f"{stages[name]['seconds']:6.2f}" if name in stages else "     -" for name in stage_names
        )
        row += "  " + " ".join(f"{click['seconds']:.2f}" for click in entry["more_like_me"])
        print(row)
    print("likeness 0-100 to the photos' centroid; – not measured; x: measured lower, not kept; "
          "skip: the pass did not run (no face found, or no larger output)")


def contact_sheet(rendered: list[dict], path: Path, *, engine_label: str) -> None:
    """A header naming the engine (the tiny engine says it is not a real model), then a row per
    template: the portrait, then each click's version, each labelled."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=14)
    rows = []
    for item in rendered:
        tiles = [(item["portrait"]["result"], f"{item['template']['slug']}\n{_label(item['portrait']['result'])}")]
        for index, click in enumerate(item["clicks"], start=1):
            kept = "kept" if click["verdict"].keep else "not kept"
            tiles.append((click["result"], f"more like me {index}, {kept}\n{_label(click['result'])}"))
        rows.append(tiles)
    tile_width = max(round(result.image.width * TILE_HEIGHT / result.image.height) for row in rows for result, _ in row)
    tile_width = max(tile_width, 240)
    label_height, header_height = 40, 28
    sheet = Image.new(
        "RGB", (tile_width * (1 + CLICKS), header_height + (TILE_HEIGHT + label_height) * len(rows)), "white"
    )
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 6), f"Likeness quality report: {engine_label}", fill="black", font=font)
    for row_index, row in enumerate(rows):
        top = header_height + row_index * (TILE_HEIGHT + label_height)
        for column, (result, label) in enumerate(row):
            scale = TILE_HEIGHT / result.image.height
            tile = result.image.resize((round(result.image.width * scale), TILE_HEIGHT), Image.Resampling.LANCZOS)
            sheet.paste(tile, (column * tile_width, top))
            draw.text((column * tile_width + 4, top + TILE_HEIGHT + 3), label, fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def example_candidate(rendered: dict):
    """The version of a template's portrait to propose as its example: the base render or a
    kept "more like me" click, whichever measured closest (the last kept where none measured)."""
    kept = [rendered["portrait"]["result"]] + [click["result"] for click in rendered["clicks"] if click["verdict"].keep]
    measured = [result for result in kept if result.likeness is not None]
    return max(measured, key=lambda result: result.likeness) if measured else kept[-1]


def examples_write(rendered: list[dict], folder: Path, *, engine_label: str, test_output: bool, consent: str) -> list[dict]:
    """Each template's candidate example as a PNG, and examples.json describing them."""
    from PIL import PngImagePlugin

    folder.mkdir(parents=True, exist_ok=True)
    prefix = "tiny-engine-" if test_output else ""
    written = []
    for item in rendered:
        result = example_candidate(item)
        name = f"{prefix}{item['template']['slug']}.png"
        metadata = PngImagePlugin.PngInfo()
        metadata.add_itxt("Comment", f"Engine: {engine_label}. Consent: {consent}")
        result.image.save(folder / name, pnginfo=metadata)
        written.append({
            "template": item["template"]["slug"], "title": item["template"]["title"], "file": name,
            "likeness": result.likeness, "size": list(result.image.size),
        })
    (folder / "examples.json").write_text(json.dumps({
        "engine": engine_label, "test_output": test_output, "consent": consent, "examples": written,
    }, indent=2, ensure_ascii=False))
    return written


def _label(result) -> str:
    size = f"{result.image.width}x{result.image.height}"
    return f"{size}, not measured" if result.likeness is None else f"{size}, likeness {result.likeness:.1f}"


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="a folder of one person's photos")
    parser.add_argument("--templates", help="comma-separated slugs (default: every seeded template)")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--sheet", type=Path, help="write the contact sheet PNG here")
    parser.add_argument(
        "--train-samples", type=int, help="default: 40 on the tiny engine; on a model, the recipe's for the set"
    )
    parser.add_argument("--render-steps", type=int, help="default: 3 on the tiny engine, 28 on a model")
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: 1 on the tiny engine, torch's otherwise)")
    parser.add_argument("--examples", type=Path, help="write each template's best version here as a candidate example")
    parser.add_argument("--consent", default="", help="with --examples: how the person in the photos agreed to be shown")
    args = parser.parse_args()
    if args.examples and not args.consent.strip():
        parser.error("--examples needs --consent: examples show a real person, who must have agreed to be shown.")

    started = time.perf_counter()
    spec = engine_spec()
    engine = get_engine(spec)
    threads = args.threads or (1 if engine.is_tiny else None)
    if threads:
        import torch

        # The tiny engine's layers are too small to share between threads: a second one only
        # adds contention (tests/engine/conftest.py measured 10x on a busy 2-core machine).
        torch.set_num_threads(threads)
    # None on a model: train_lora's own samples for the set (training_samples_for), as a job trains.
    args.train_samples = args.train_samples or (40 if engine.is_tiny else None)
    args.render_steps = args.render_steps or (3 if engine.is_tiny else 28)
    print(f"engine: {engine.label} ({engine.family}, {engine.device})")
    if engine.is_tiny:
        from diffusers.utils import logging as diffusers_logging

        # The tiny engine's stand-in tokenizer reads one character per token and warns on every
        # prompt; the seeded prompts fit the real models' 77 tokens (tests/styles checks it).
        diffusers_logging.set_verbosity_error()

    photos, embeddings, verdicts = intake(args.photos)
    refused = [verdict for verdict in verdicts if not verdict["accepted"]]
    print(f"intake: {len(photos)} of {len(verdicts)} photos accepted"
          + (f"; refused: {', '.join(v['photo'] + ' (' + v['reason'] + ')' for v in refused)}" if refused else ""))
    if not photos:
        raise SystemExit("No photo passed intake: nothing to train.")
    centroid = identity_centroid(embeddings)
    training_images = [aligned_face_crop(image, box=box, size=engine.resolution, margin=0.6) for image, box in photos]
    score, find_face = portrait_scorer(centroid), largest_face_finder()

    with tempfile.TemporaryDirectory() as folder:
        training = train_avatar(
            engine, training_images, output_path=Path(folder) / "avatar.safetensors", samples=args.train_samples,
            score=score, seed=args.seed,
        )
        print(f"training: {training['samples']} samples ({training['steps']} steps) in {training['seconds']:.1f} s "
              f"({training['validation_seconds']:.1f} s validating), final loss {training['final_loss']:.4f}, "
              f"checkpoint {training['checkpoint']}")
        slugs = args.templates.split(",") if args.templates else None
        rendered = [
            render_template(engine, template, lora_path=training["lora_path"], score=score, find_face=find_face,
                            args=args)
            for template in template_definitions(slugs)
        ]

    entries = [report_entry(item) for item in rendered]
    print()
    print_table(entries)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.1f} s")
    if args.json:
        report = {
            "engine": engine.label,
            "family": engine.family,
            "device": engine.device,
            "intake": verdicts,
            "training": {key: value for key, value in training.items() if key != "lora_path"},
            "templates": entries,
            "seconds": round(total, 2),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"report: {args.json}")
    if args.sheet:
        contact_sheet(rendered, args.sheet, engine_label=engine.label)
        print(f"contact sheet: {args.sheet}")
    if args.examples:
        written = examples_write(rendered, args.examples, engine_label=engine.label, test_output=engine.is_tiny,
                                 consent=args.consent.strip())
        print(f"examples: {len(written)} candidates in {args.examples}"
              + (" (tiny engine: not a real model; they show nobody, not for the style pages)" if engine.is_tiny else ""))


if __name__ == "__main__":
    main()
