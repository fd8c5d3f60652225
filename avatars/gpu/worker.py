"""What a GPU worker does for each job: adapt the engine to the avatar's rows and files.

Only the `gpu` cluster imports this module (through avatars.tasks), so torch is loaded there
and never in the web process. The lifecycle (claim, heartbeat, outcome) is avatars.gpu.jobs; the
rules that need no GPU (what to render, storing the portrait, the mails) are avatars.services.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from avatars import services
from avatars.gpu.engine_config import engine_spec, render_engine_spec
from avatars.gpu.job_stages import job_stage
from avatars.gpu.jobs import (
    JobFailedForGood,
    ProgressReporter,
    job_lock_own_attempt,
    job_mark_succeeded,
    job_run,
    job_run_next,
)
from avatars.models import Avatar, Photo, RenderJob, TrainingJob

# Where a GPU machine keeps the LoRAs of the avatars it renders for (storage may be S3).
LORA_CACHE_DIR = Path(tempfile.gettempdir()) / "likeness-lora"


def gpu_next_job_execute() -> None:
    """A worker's turn: the next waiting job in the fair order (avatars.gpu.scheduling.gpu_queue_order)."""
    try:
        job_run_next({TrainingJob: _train, RenderJob: _render})
    finally:
        local_loras_prune()


def training_job_execute(*, job_id: int) -> None:
    job_run(TrainingJob, job_id, _train)


def render_job_execute(*, job_id: int) -> None:
    try:
        job_run(RenderJob, job_id, _render)
    finally:
        local_loras_prune()


# --- Training ---------------------------------------------------------------------


# A weak avatar is trained once more from another starting point before it is failed.
RETRAIN_SEED_OFFSET = 1_000_003


def training_samples(photo_count: int) -> int:
    from avatars.engine.training import training_samples_for

    return training_samples_for(
        photo_count, samples_for_reference_set=settings.LIKENESS_TRAIN_SAMPLES,
        max_samples=settings.LIKENESS_TRAIN_MAX_SAMPLES,
    )


def _training_images(avatar: Avatar, size: int):
    from PIL import Image

    from avatars.engine.face_crops import aligned_face_crop

    photos = list(avatar.photos.filter(status=Photo.Status.ACCEPTED, selected_for_training=True).exclude(image=""))
    if not photos:
        photos = list(avatar.photos.filter(status=Photo.Status.ACCEPTED).exclude(image=""))
    images, embeddings = [], []
    for photo in photos:
        with photo.image.open("rb") as handle:
            image = Image.open(io.BytesIO(handle.read())).convert("RGB")
        # Level eyes first (roll from the 5 landmarks), then the square around the face.
        images.append(aligned_face_crop(image, box=photo.face_box, size=size, margin=0.6))
        if photo.embedding:
            embeddings.append(photo.embedding)
    return images, embeddings


def _train(job: TrainingJob, report: ProgressReporter, started: float) -> None:
    from avatars.engine.photo_sets import identity_centroid
    from avatars.engine.pipeline import get_engine
    from avatars.engine.scoring import portrait_scorer
    from avatars.engine.training import train_lora

    engine = get_engine(engine_spec())
    # Validation renders with what the portraits will be rendered with.
    render_engine = get_engine(render_engine_spec())
    avatar = job.avatar
    images, embeddings = _training_images(avatar, engine.resolution)
    if not images:
        raise RuntimeError("The avatar has no accepted photos to train on.")
    centroid = identity_centroid(embeddings) or None
    score = portrait_scorer(centroid)
    samples = training_samples(len(images))
    minimum = settings.LIKENESS_MIN_AVATAR_LIKENESS
    curve: list[dict] = []
    report(job_stage("training"), 2, force=True)

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "avatar.safetensors"
        for attempt, seed in enumerate((job.pk, job.pk + RETRAIN_SEED_OFFSET)):
            # What the customer reads while it trains; once a likeness is measured, that.
            stage = [job_stage("training" if attempt == 0 else "training_again")]

            def on_progress(samples_seen: int, total: int, loss: float, stage=stage) -> None:
                report(stage[0], 2 + int(93 * samples_seen / max(total, 1)))

            def on_validation(point, seed=seed, stage=stage) -> None:
                curve.append({**dataclasses.asdict(point), "seed": seed})
                if point.mean_likeness is not None:
                    stage[0] = job_stage("likeness", round(point.mean_likeness))
                report.write_now(validation_curve=curve, stage=stage[0])

            result = train_lora(
                engine, images,
                identity_token=avatar.identity_token, subject_class=avatar.subject_class, output_path=output,
                samples=samples, batch_size=settings.LIKENESS_TRAIN_BATCH_SIZE,
                rank=settings.LIKENESS_LORA_RANK, learning_rate=settings.LIKENESS_LEARNING_RATE,
                text_encoder_rank=settings.LIKENESS_TEXT_ENCODER_LORA_RANK,
                text_encoder_learning_rate=settings.LIKENESS_TEXT_ENCODER_LEARNING_RATE,
                validate_every=settings.LIKENESS_VALIDATE_EVERY, score=score,
                gradient_checkpointing=settings.LIKENESS_GRADIENT_CHECKPOINTING,
                optimizer=settings.LIKENESS_TRAINING_OPTIMIZER, validation_engine=render_engine,
                seed=seed, progress=on_progress, on_validation=on_validation,
            )
            # Not measured (no face in any validation image, as on the tiny engine) is no failure.
            if not result.likeness_measured or result.best_likeness >= minimum:
                break
        else:
            raise JobFailedForGood(
                gettext_noop("We could not learn your likeness well enough from these photos (best %(best)s "
                             "of 100, %(needed)s needed), even on a second try."),
                {"best": f"{result.best_likeness:.0f}", "needed": f"{minimum:.0f}"},
            )
        lora_bytes = output.read_bytes()
    report(job_stage("saving"), 97, force=True)
    with transaction.atomic():
        locked = job_lock_own_attempt(job)
        avatar = Avatar.objects.select_for_update().get(pk=locked.avatar_id)
        services.avatar_mark_trained(
            avatar=avatar, lora_bytes=lora_bytes, centroid=centroid, engine_label=engine.label,
            engine_family=engine.family,
        )
        locked.steps = result.steps
        locked.samples = result.samples
        locked.final_loss = result.final_loss
        locked.validation_curve = curve
        locked.chosen_samples = result.chosen.samples if result.chosen is not None else None
        locked.best_likeness = result.best_likeness
        job_mark_succeeded(locked, started=started)
        for template in avatar.templates.filter(is_published=True):
            services.render_job_create(avatar=avatar, template=template, kind=RenderJob.Kind.INITIAL)


# --- Rendering --------------------------------------------------------------------


def _local_lora_path(avatar: Avatar) -> Path:
    """The avatar's LoRA as a local file, cached by its unique name while its renders run."""
    LORA_CACHE_DIR.mkdir(exist_ok=True)
    path = LORA_CACHE_DIR / Path(avatar.lora_file.name).name
    if not path.exists():
        with avatar.lora_file.open("rb") as handle:
            partial = path.with_suffix(".part")
            partial.write_bytes(handle.read())
            partial.replace(path)
    return path


def local_loras_prune() -> list[str]:
    """Delete this machine's LoRA copies that no queued or running render needs. A LoRA renders
    the person's likeness: it stays on a GPU machine only while it works for them, and a
    deleted avatar's copy goes when its last render stops. Returns the names deleted."""
    if not LORA_CACHE_DIR.is_dir():
        return []
    active = Avatar.objects.filter(render_jobs__status__in=[RenderJob.Status.QUEUED, RenderJob.Status.RUNNING])
    needed = {Path(name).stem for name in active.exclude(lora_file="").values_list("lora_file", flat=True)}
    deleted = []
    for path in LORA_CACHE_DIR.iterdir():
        # "<name>.safetensors", or "<name>.part" while it is being copied.
        if path.name.split(".", 1)[0] not in needed:
            path.unlink(missing_ok=True)
            deleted.append(path.name)
    return deleted


def portraits_for_job(job: RenderJob) -> int:
    """How many portraits a render job keeps: a style's first render several, a re-roll or a
    "more like me" one (it answers one portrait)."""
    if job.kind in (RenderJob.Kind.REROLL, RenderJob.Kind.MORE_LIKE_ME):
        return 1
    return max(1, settings.LIKENESS_PORTRAITS_PER_STYLE)


def _render(job: RenderJob, report: ProgressReporter, started: float) -> None:
    from PIL import Image

    from avatars.engine.candidates import candidate_seed
    from avatars.engine.more_like_me import is_more_like
    from avatars.engine.passes import DEFAULT_FACE_STRENGTH, DEFAULT_HIRES_STRENGTH, web_copy
    from avatars.engine.pipeline import get_engine
    from avatars.engine.rendering import render
    from avatars.engine.safety import nudity_verdict
    from avatars.engine.scoring import largest_face_finder, portrait_scorer

    engine = get_engine(render_engine_spec())
    avatar = job.avatar
    if avatar.status != Avatar.Status.READY or not avatar.lora_file:
        raise RuntimeError("The avatar is not trained.")
    plan = services.render_job_plan(job=job)
    parameters = plan.parameters
    source = job.source_portrait if job.kind == RenderJob.Kind.MORE_LIKE_ME else None
    min_likeness = settings.LIKENESS_MIN_LIKENESS
    if source is not None and source.likeness_score is not None:
        # "More like me" re-rolls until a candidate beats the version it came from, within the budget.
        min_likeness = max(min_likeness, source.likeness_score + 0.1)
    reference = None
    if parameters.get("use_reference") and job.template.reference_image:
        with job.template.reference_image.open("rb") as handle:
            reference = Image.open(io.BytesIO(handle.read())).convert("RGB")
    wanted = portraits_for_job(job)
    candidates, max_rerolls = settings.LIKENESS_CANDIDATES_PER_TEMPLATE, settings.LIKENESS_MAX_REROLLS
    # Each portrait is the best of its own candidates: its seeds start past every seed the
    # portraits before it could have tried, so no two portraits share a candidate.
    seeds_per_portrait = candidates * (max_rerolls + 1)
    report(job_stage("rendering"), 5, force=True)
    results, unsafe_scores = [], []
    for index in range(wanted):
        def progress(step: int, total: int, index=index) -> None:
            report(job_stage("rendering"), 5 + int(90 * (index + step / max(total, 1)) / wanted))

        result = render(
            engine,
            lora_path=_local_lora_path(avatar),
            identity_token=avatar.identity_token,
            subject_class=avatar.subject_class,
            prompt=parameters["prompt"],
            negative_prompt=parameters["negative_prompt"],
            reference_image=reference,
            strength=parameters["strength"],
            guidance_scale=parameters["guidance_scale"],
            steps=parameters["steps"],
            width=parameters["width"],
            height=parameters["height"],
            seed=candidate_seed(plan.seed, index * seeds_per_portrait),
            lora_scale=parameters["lora_scale"],
            candidates=candidates,
            score=portrait_scorer(avatar.embedding_centroid),
            max_rerolls=max_rerolls,
            min_likeness=min_likeness,
            beauty=parameters["beauty"],
            find_face=largest_face_finder(),
            # Portraits rendered before the finishing passes have none of these in their parameters.
            face_strength=parameters.get("face_strength", DEFAULT_FACE_STRENGTH),
            output_long_side=parameters.get("output_long_side", 0),
            hires_strength=parameters.get("hires_strength", DEFAULT_HIRES_STRENGTH),
            progress=progress,
        )
        is_safe, nudity_score, _ = nudity_verdict(result.image)
        if is_safe:
            results.append(result)
        else:
            unsafe_scores.append(nudity_score)
    if not results:
        raise RuntimeError(f"Every candidate failed the safety check (nudity scores {', '.join(f'{s:.2f}' for s in unsafe_scores)}).")
    verdict = is_more_like(results[0].likeness, source.likeness_score) if source is not None else None
    report(job_stage("saving"), 97, force=True)
    if verdict is not None and not verdict.keep:
        with transaction.atomic():
            locked = job_lock_own_attempt(job)
            services.more_like_me_found_nothing_closer(job=locked)
            job_mark_succeeded(locked, started=started, stage=job_stage("no_closer_version"))
        return
    renders = []
    for result in results:
        full_size, web_sized = io.BytesIO(), io.BytesIO()
        result.image.save(full_size, format="PNG")
        web_copy(result.image).save(web_sized, format="PNG")
        recorded = {**parameters, **result.parameters}
        if verdict is not None:
            recorded["more_like_me_verdict"] = {"measured": verdict.measured, "reason": verdict.reason}
        renders.append(services.RenderedPortrait(
            png_bytes=full_size.getvalue(), web_png_bytes=web_sized.getvalue(), seed=result.seed,
            likeness=result.likeness, parameters=recorded, width=result.image.width, height=result.image.height,
        ))
    with transaction.atomic():
        locked = job_lock_own_attempt(job)
        services.portraits_create_for_job(job=locked, renders=renders, engine_label=engine.label)
        job_mark_succeeded(locked, started=started)
