"""The GPU jobs, as the worker runs them: claim the row, run the engine, record the outcome.

Only the `gpu` cluster's worker imports this module (through avatars.tasks), so torch
is loaded there and never in the web process. Every entry point may run twice: a job
that is already done, cancelled or being run by a live worker is left alone.
"""

from __future__ import annotations

import io
import logging
import secrets
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from avatars import services
from avatars.engine_config import engine_spec
from avatars.models import Avatar, Photo, Portrait, RenderJob, TrainingJob

logger = logging.getLogger(__name__)

# Progress writes are throttled: a heartbeat every few seconds is plenty for the
# stale-job sweep and the progress page, and spares the database on fast GPUs.
PROGRESS_WRITE_INTERVAL_SECONDS = 1.0


class JobAbandoned(Exception):
    """The job row was cancelled or taken over while this worker ran it."""


def _heartbeat_is_fresh(job) -> bool:
    if job.heartbeat_at is None:
        return False
    return timezone.now() - job.heartbeat_at < timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS)


def _job_claim(model, job_id: int):
    """Lock the job and mark it running for this attempt, or return None when there is nothing to do."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (job.Status.SUCCEEDED, job.Status.CANCELLED, job.Status.FAILED):
            return None
        if job.status == job.Status.RUNNING:
            if _heartbeat_is_fresh(job):
                return None
            # The worker that ran it died (its heartbeat went quiet): take it over.
            job.transition_to(job.Status.QUEUED)
        if job.attempts >= job.max_attempts:
            job.transition_to(job.Status.RUNNING)
            _job_fail_for_good(job, job.error or f"Gave up after {job.attempts} attempts.")
            return None
        job.transition_to(job.Status.RUNNING)
        job.attempts += 1
        job.heartbeat_at = timezone.now()
        job.started_at = job.heartbeat_at
        job.stage = "starting"
        job.progress = 0
        job.error = ""
        job.save()
        if isinstance(job, TrainingJob):
            avatar = Avatar.objects.select_for_update().get(pk=job.avatar_id)
            if avatar.status != Avatar.Status.TRAINING:
                avatar.transition_to(Avatar.Status.TRAINING)
                avatar.save(update_fields=["status"])
        return job


class ProgressReporter:
    """Writes stage, progress and heartbeat for one attempt; stops the work if the row moved on."""

    def __init__(self, job):
        self.model = type(job)
        self.job_id = job.pk
        self.attempt = job.attempts
        self.last_write = 0.0

    def __call__(self, stage: str, progress: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_write < PROGRESS_WRITE_INTERVAL_SECONDS:
            return
        self.last_write = now
        updated = self.model.objects.filter(
            pk=self.job_id, status=self.model.Status.RUNNING, attempts=self.attempt
        ).update(stage=stage, progress=max(0, min(99, progress)), heartbeat_at=timezone.now())
        if not updated:
            raise JobAbandoned(f"{self.model.__name__} {self.job_id} is no longer ours")


def _lock_own_running_job(job):
    locked = type(job).objects.select_for_update().get(pk=job.pk)
    if locked.status != locked.Status.RUNNING or locked.attempts != job.attempts:
        raise JobAbandoned(f"{type(job).__name__} {job.pk} is no longer ours")
    return locked


def _job_fail_attempt(job, error: str, seconds: float) -> None:
    with transaction.atomic():
        locked = type(job).objects.select_for_update().get(pk=job.pk)
        if locked.status != locked.Status.RUNNING or locked.attempts != job.attempts:
            return
        locked.error = error[:5000]
        locked.gpu_seconds += seconds
        if locked.attempts < locked.max_attempts:
            locked.transition_to(locked.Status.QUEUED)
            locked.stage = "retrying"
            locked.save()
            transaction.on_commit(lambda: services.job_enqueue(job=locked))
        else:
            _job_fail_for_good(locked, error)


def _job_fail_for_good(job, error: str) -> None:
    """Record the permanent failure; a failed build gives the money back by itself."""
    job.transition_to(job.Status.FAILED)
    job.error = error[:5000]
    job.finished_at = timezone.now()
    job.save()
    if isinstance(job, TrainingJob):
        avatar = Avatar.objects.select_for_update().get(pk=job.avatar_id)
        if avatar.can_transition_to(Avatar.Status.FAILED):
            avatar.transition_to(Avatar.Status.FAILED)
            avatar.save(update_fields=["status"])
        if job.order_id:
            transaction.on_commit(lambda: _refund_order(job.order_id, "Avatar training failed"))
    elif job.kind == RenderJob.Kind.INITIAL and not _initial_renders_may_still_succeed(job):
        order = job.avatar.orders.filter(status="paid").order_by("-paid_at").first()
        if order:
            transaction.on_commit(lambda: _refund_order(order.pk, "No portrait could be rendered"))


def _initial_renders_may_still_succeed(job: RenderJob) -> bool:
    initial = RenderJob.objects.filter(avatar_id=job.avatar_id, kind=RenderJob.Kind.INITIAL)
    return initial.filter(status__in=["queued", "running", "succeeded"]).exists()


def _refund_order(order_id: int, reason: str) -> None:
    from orders.models import Order
    from orders.services import order_refund

    order = Order.objects.get(pk=order_id)
    try:
        order_refund(order=order, reason=reason)
    except Exception:
        # The refund row (if any) stays pending; operators see it and the reconciliation retries.
        logger.exception("Automatic refund of order %s failed", order_id)


# --- Training ---------------------------------------------------------------------


def training_steps_for(photo_count: int) -> int:
    return max(1, min(settings.LIKENESS_TRAIN_STEPS_PER_PHOTO * photo_count, settings.LIKENESS_TRAIN_MAX_STEPS))


def _training_images(avatar: Avatar, size: int):
    from PIL import Image

    from avatars.engine.faces import crop_face

    photos = list(avatar.photos.filter(status=Photo.Status.ACCEPTED, selected_for_training=True).exclude(image=""))
    if not photos:
        photos = list(avatar.photos.filter(status=Photo.Status.ACCEPTED).exclude(image=""))
    images, embeddings = [], []
    for photo in photos:
        with photo.image.open("rb") as handle:
            image = Image.open(io.BytesIO(handle.read())).convert("RGB")
        images.append(crop_face(image, photo.face_box, size=size, margin=0.6))
        if photo.embedding:
            embeddings.append(photo.embedding)
    return images, embeddings


def _job_run(model, job_id: int, work) -> None:
    """Claim the job, run `work(job, report, started)`, and record a failed attempt if it raises."""
    job = _job_claim(model, job_id)
    if job is None:
        return
    started = time.monotonic()
    report = ProgressReporter(job)
    try:
        report("loading the model", 1, force=True)
        work(job, report, started)
    except JobAbandoned:
        logger.info("%s %s was taken over or cancelled; stopping", model.__name__, job_id)
    except Exception as exc:
        logger.exception("%s %s failed (attempt %s)", model.__name__, job_id, job.attempts)
        _job_fail_attempt(job, f"{type(exc).__name__}: {exc}", time.monotonic() - started)


def training_job_execute(*, job_id: int) -> None:
    _job_run(TrainingJob, job_id, _train)


def _train(job: TrainingJob, report: ProgressReporter, started: float) -> None:
    from avatars.engine.intake import identity_centroid
    from avatars.engine.pipeline import get_engine
    from avatars.engine.training import train_lora

    engine = get_engine(engine_spec())
    avatar = job.avatar
    images, embeddings = _training_images(avatar, engine.resolution)
    if not images:
        raise RuntimeError("The avatar has no accepted photos to train on.")
    steps = training_steps_for(len(images))
    report("training", 2, force=True)

    def on_step(step: int, total: int, loss: float) -> None:
        report("training", 2 + int(93 * step / max(total, 1)))

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "avatar.safetensors"
        result = train_lora(
            engine, images,
            identity_token=avatar.identity_token, subject_class=avatar.subject_class,
            output_path=output, rank=settings.LIKENESS_LORA_RANK, steps=steps,
            learning_rate=settings.LIKENESS_LEARNING_RATE, seed=job.pk, progress=on_step,
            # Every step: the reporter throttles the writes, and ten slow steps (a CPU, a big
            # model) can outlast the stale limit, so the sweep would take over a live job.
            progress_every=1,
        )
        lora_bytes = output.read_bytes()
    report("saving", 97, force=True)
    with transaction.atomic():
        locked = _lock_own_running_job(job)
        avatar = Avatar.objects.select_for_update().get(pk=locked.avatar_id)
        services.avatar_mark_trained(
            avatar=avatar, lora_bytes=lora_bytes, centroid=identity_centroid(embeddings) or None,
            engine_label=engine.label,
        )
        locked.transition_to(locked.Status.SUCCEEDED)
        locked.stage = "done"
        locked.progress = 100
        locked.steps = result.steps
        locked.final_loss = result.final_loss
        locked.finished_at = timezone.now()
        locked.gpu_seconds += time.monotonic() - started
        locked.save()
        for template in avatar.templates.filter(is_published=True):
            services.render_job_create(avatar=avatar, template=template, kind=RenderJob.Kind.INITIAL)


# --- Rendering --------------------------------------------------------------------


# Where a GPU machine keeps the LoRAs of the avatars it renders for (storage may be S3).
LORA_CACHE_DIR = Path(tempfile.gettempdir()) / "likeness-lora"


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


def render_parameters(job: RenderJob) -> tuple[dict, int]:
    """What the job renders with: the template's, or for "more like me" the source portrait's, moved."""
    from avatars.engine.rendering import more_like_me_parameters

    template = job.template
    source = job.source_portrait
    if job.kind == RenderJob.Kind.MORE_LIKE_ME and source is not None:
        return more_like_me_parameters(source.parameters), source.seed
    parameters = {
        "prompt": template.prompt,
        "negative_prompt": template.negative_prompt,
        "strength": template.img2img_strength,
        "guidance_scale": template.guidance_scale,
        "steps": template.steps,
        "width": template.width,
        "height": template.height,
        "lora_scale": 1.0,
        "beauty": round(template.beauty_weight / max(template.likeness_weight + template.beauty_weight, 1e-6), 3),
        "use_reference": bool(template.reference_image),
    }
    if template.seed_policy == template.SeedPolicy.FIXED and job.kind == RenderJob.Kind.INITIAL:
        return parameters, template.seed
    return parameters, secrets.randbelow(2**31)


def render_job_execute(*, job_id: int) -> None:
    try:
        _job_run(RenderJob, job_id, _render)
    finally:
        local_loras_prune()


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


def _render(job: RenderJob, report: ProgressReporter, started: float) -> None:
    from PIL import Image

    from avatars.engine.pipeline import get_engine
    from avatars.engine.rendering import render
    from avatars.engine.safety import nudity_verdict
    from avatars.engine.scoring import portrait_scorer

    engine = get_engine(engine_spec())
    avatar = job.avatar
    if avatar.status != Avatar.Status.READY or not avatar.lora_file:
        raise RuntimeError("The avatar is not trained.")
    parameters, seed = render_parameters(job)
    reference = None
    if parameters.get("use_reference") and job.template.reference_image:
        with job.template.reference_image.open("rb") as handle:
            reference = Image.open(io.BytesIO(handle.read())).convert("RGB")
    report("rendering", 5, force=True)
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
        seed=seed,
        lora_scale=parameters["lora_scale"],
        candidates=settings.LIKENESS_CANDIDATES_PER_TEMPLATE,
        score=portrait_scorer(avatar.embedding_centroid),
        max_rerolls=settings.LIKENESS_MAX_REROLLS,
        min_likeness=settings.LIKENESS_MIN_LIKENESS,
        beauty=parameters["beauty"],
        progress=lambda step, total: report("rendering", 5 + int(90 * step / max(total, 1))),
    )
    is_safe, nudity_score, _ = nudity_verdict(result.image)
    if not is_safe:
        raise RuntimeError(f"Every candidate failed the safety check (nudity score {nudity_score:.2f}).")
    buffer = io.BytesIO()
    result.image.save(buffer, format="PNG")
    report("saving", 97, force=True)
    with transaction.atomic():
        locked = _lock_own_running_job(job)
        source = locked.source_portrait
        chain_parent = source if locked.kind == RenderJob.Kind.MORE_LIKE_ME else None
        portrait = Portrait(
            avatar=avatar, template=locked.template, render_job=locked, seed=result.seed,
            likeness_score=result.likeness,
            parameters={**parameters, **result.parameters},
            more_like_me_of=chain_parent,
            version=(chain_parent.version + 1) if chain_parent else 1,
            width=result.image.width, height=result.image.height,
            engine_label=engine.label,
        )
        portrait.image.save("portrait.png", ContentFile(buffer.getvalue()), save=False)
        portrait.save()
        locked.transition_to(locked.Status.SUCCEEDED)
        locked.stage = "done"
        locked.progress = 100
        locked.finished_at = timezone.now()
        locked.gpu_seconds += time.monotonic() - started
        locked.save()
        if locked.kind == RenderJob.Kind.INITIAL:
            _notify_when_first_portraits_ready(avatar)


def _notify_when_first_portraits_ready(avatar: Avatar) -> None:
    initial = RenderJob.objects.filter(avatar=avatar, kind=RenderJob.Kind.INITIAL)
    if initial.filter(status__in=["queued", "running"]).exists():
        return
    email = avatar.user.email
    link = f"{settings.SITE_URL}/avatars/{avatar.public_id}/"
    transaction.on_commit(lambda: send_mail(
        "Your portraits are ready",
        f"Your Likeness portraits are ready. See them here: {link}\n\n"
        "Your uploaded photos have been deleted now that your avatar is trained.",
        None, [email],
    ))


# --- Sweeps -------------------------------------------------------------------------


def jobs_requeue_stale() -> int:
    """Requeue running jobs whose worker went quiet (killed, machine lost). Scheduled every minute."""
    cutoff = timezone.now() - timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS)
    requeued = 0
    for model in (TrainingJob, RenderJob):
        for job_id in model.objects.filter(status="running", heartbeat_at__lt=cutoff).values_list("pk", flat=True):
            with transaction.atomic():
                job = model.objects.select_for_update().get(pk=job_id)
                if job.status != job.Status.RUNNING or _heartbeat_is_fresh(job):
                    continue
                job.error = "The worker stopped answering; the job was requeued."
                if job.attempts >= job.max_attempts:
                    _job_fail_for_good(job, f"The worker stopped answering {job.attempts} times.")
                else:
                    job.transition_to(job.Status.QUEUED)
                    job.stage = "requeued"
                    job.save()
                    transaction.on_commit(lambda job=job: services.job_enqueue(job=job))
                requeued += 1
    return requeued
