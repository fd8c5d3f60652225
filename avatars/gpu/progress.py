"""What a waiting customer sees of the GPU queue: each job's progress, queue position and ETA, from queue figures shared through the cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.core.cache import cache
from django.db.models import (
    F,
    JSONField,
    Value,
)
from django.utils.translation import gettext as _

from avatars.gpu.job_stages import job_stage_words
from avatars.gpu.scheduling import gpu_queue_order
from avatars.models import JOB_MODELS, Avatar, GpuJob, RenderJob, TrainingJob
from avatars.selectors.avatars import ACTIVE_JOB_STATUSES
from avatars.selectors.builds import training_failure_words
from styles.models import style_text_translated


@dataclass
class JobProgress:
    kind: str
    label: str
    status: str
    stage: str
    progress: int
    queue_position: int | None
    eta_seconds: int | None


@dataclass(frozen=True)
class JobsAhead:
    count: int  # GPU jobs running now, or waiting before it in the workers' order
    seconds: float | None  # how long those take, by the typical durations; None when unknown


# Queue positions and typical durations are figures over everyone's jobs that every waiting
# customer's open tab reads every two seconds: they are measured once and shared through the
# cache, so a queue position may lag by up to QUEUE_FIGURES_SECONDS.
QUEUE_FIGURES_SECONDS = 2


TYPICAL_SECONDS_KEPT_SECONDS = 60


QUEUE_SNAPSHOT_KEY = "gpu-queue-snapshot"




def _queue_snapshot_measured() -> dict:
    """The running jobs' progress and every waiting job in the workers' order (gpu_queue_order),
    as (table, id) pairs."""
    table_of = {model: table for table, model in JOB_MODELS.items()}
    running = [
        (table, progress)
        for table, model in JOB_MODELS.items()
        for progress in model.objects.filter(status=GpuJob.Status.RUNNING).values_list("progress", flat=True)
    ]
    return {"running": running, "order": [(table_of[queued.model], queued.job_id) for queued in gpu_queue_order()]}


def _typical_seconds_measured(model) -> float | None:
    """How long one of these jobs takes, over the last twenty."""
    recent = list(
        model.objects.filter(status=GpuJob.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:20]
    )
    if not recent:
        return None
    return sum((finished - started).total_seconds() for started, finished in recent) / len(recent)


def _typical_seconds_key(model) -> str:
    return f"typical-seconds:{model._meta.label_lower}"


def _figures_shared_by_every_poll(*, queue: bool, typical_of: list) -> dict:
    """The shared figures a poll needs, in one cache round trip: the queue's snapshot when
    `queue`, and the typical seconds of each model in `typical_of`. A figure missing from the
    cache is measured and kept."""
    wanted = {}
    if queue:
        wanted[QUEUE_SNAPSHOT_KEY] = (_queue_snapshot_measured, QUEUE_FIGURES_SECONDS)
        # Waiting jobs' ETAs add up everyone's jobs ahead: both tables' durations are needed.
        typical_of = list(JOB_MODELS.values())
    for model in typical_of:
        wanted[_typical_seconds_key(model)] = (
            lambda model=model: _typical_seconds_measured(model), TYPICAL_SECONDS_KEPT_SECONDS
        )
    figures = cache.get_many(wanted) if wanted else {}
    for key, (measure, seconds) in wanted.items():
        if key not in figures:
            figures[key] = measure()
            cache.set(key, figures[key], timeout=seconds)
    return figures


def _jobs_ahead_in_queue(jobs, figures: dict) -> dict[tuple[str, int], JobsAhead]:
    """For each of `jobs` that waits: the GPU jobs ahead of it in the workers' order, and how long
    they should take (as the shared figures last saw them)."""
    waiting = {(job.table, job.pk) for job in jobs if job.status == GpuJob.Status.QUEUED}
    if not waiting:
        return {}
    snapshot = figures[QUEUE_SNAPSHOT_KEY]
    typical = {table: figures[_typical_seconds_key(model)] for table, model in JOB_MODELS.items()}
    known = all(value is not None for value in typical.values())
    count = len(snapshot["running"])
    seconds = sum((typical[table] or 0.0) * (100 - progress) / 100 for table, progress in snapshot["running"])
    ahead = {}
    for table, job_id in snapshot["order"]:
        key = (table, job_id)
        if key in waiting:
            ahead[key] = JobsAhead(count=count, seconds=seconds if known else None)
            if len(ahead) == len(waiting):
                break
        count += 1
        seconds += typical[table] or 0.0
    return ahead


def _eta(job, typical: float | None, ahead: JobsAhead | None) -> int | None:
    """Seconds until the job is done: the rest of it when running; when waiting, the jobs ahead
    of it in the workers' order, then the job itself."""
    if typical is None:
        return None
    if job.status == GpuJob.Status.RUNNING and job.progress > 2:
        return int(typical * (100 - job.progress) / 100)
    if job.status == GpuJob.Status.QUEUED and ahead is not None:
        return None if ahead.seconds is None else int(ahead.seconds + typical)
    return int(typical)


def _queue_position(ahead_in_queue: dict, job) -> int | None:
    ahead = ahead_in_queue.get((job.table, job.pk))
    return ahead.count if ahead is not None else None


class _JobShown(NamedTuple):
    """One of the avatar's jobs, with only what its progress line shows."""

    table: str  # "training" or "render"
    pk: int
    status: str
    stage: str
    progress: int
    queued_at: datetime
    kind: str
    template_title: str
    template_translations: dict | None
    failure_reason: str

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


def _jobs_shown(*, avatar: Avatar) -> tuple[_JobShown | None, list[_JobShown]]:
    """The avatar's latest training job and its render jobs in queue order, read in one query."""
    columns = _JobShown._fields
    training = (
        TrainingJob.objects.filter(avatar=avatar).order_by()
        .annotate(
            table=Value("training"), kind=Value(""), template_title=Value(""),
            template_translations=Value(None, output_field=JSONField()),
        )
        .values_list(*columns)
    )
    renders = (
        RenderJob.objects.filter(avatar=avatar).order_by()
        .annotate(
            table=Value("render"), template_title=F("template__title"),
            template_translations=F("template__translations"), failure_reason=Value(""),
        )
        .values_list(*columns)
    )
    rows = [_JobShown(*row) for row in training.union(renders, all=True)]
    trainings = [row for row in rows if row.table == "training"]
    latest_training = max(trainings, key=lambda row: (row.queued_at, row.pk)) if trainings else None
    return latest_training, sorted((row for row in rows if row.table == "render"), key=lambda row: (row.queued_at, row.pk))


def avatar_progress(*, avatar: Avatar) -> dict:
    """Everything the live progress page shows, as JSON-ready data."""
    training, renders = _jobs_shown(avatar=avatar)
    shown = [job for job in (training, *renders) if job is not None]
    figures = _figures_shared_by_every_poll(
        queue=any(job.status == GpuJob.Status.QUEUED for job in shown),
        typical_of=[
            model for model, active in (
                (TrainingJob, training is not None and training.is_active),
                (RenderJob, any(job.is_active for job in renders)),
            ) if active
        ],
    )
    ahead_in_queue = _jobs_ahead_in_queue(shown, figures)
    jobs: list[JobProgress] = []
    if training is not None:
        jobs.append(JobProgress(
            kind="training", label=_("Training your avatar"), status=training.status,
            stage=job_stage_words(training.stage),
            progress=training.progress,
            queue_position=_queue_position(ahead_in_queue, training),
            eta_seconds=(
                _eta(training, figures[_typical_seconds_key(TrainingJob)], ahead_in_queue.get(("training", training.pk)))
                if training.is_active else None
            ),
        ))
    typical_render = figures.get(_typical_seconds_key(RenderJob))
    for job in renders:
        jobs.append(JobProgress(
            kind="render", status=job.status, stage=job_stage_words(job.stage), progress=job.progress,
            label=_("%(kind)s: %(template)s") % {
                "kind": RenderJob.Kind(job.kind).label,
                "template": style_text_translated(
                    translations=job.template_translations, field="title", written=job.template_title,
                ),
            },
            queue_position=_queue_position(ahead_in_queue, job),
            eta_seconds=_eta(job, typical_render, ahead_in_queue.get(("render", job.pk))) if job.is_active else None,
        ))
    active = [j for j in jobs if j.status in ACTIVE_JOB_STATUSES]
    total = len(jobs) or 1
    overall = int(sum(100 if j.status == GpuJob.Status.SUCCEEDED else j.progress for j in jobs) / total)
    badge_status, badge_label = _avatar_badge(avatar, jobs)
    return {
        "avatar_status": avatar.status,
        "avatar_status_label": avatar.get_status_display(),
        "badge_status": badge_status,
        "badge_label": badge_label,
        "overall_progress": overall,
        "done": avatar.status == Avatar.Status.READY and not active,
        "failed": avatar.status == Avatar.Status.FAILED,
        "failure_reason": training_failure_words(job_id=training.pk)
        if avatar.status == Avatar.Status.FAILED and training is not None else "",
        "portrait_count": avatar.portraits.count(),
        "jobs": [j.__dict__ for j in jobs],
        "eta_seconds": max((j.eta_seconds or 0 for j in active), default=0) or None,
    }


def _avatar_badge(avatar: Avatar, jobs: list[JobProgress]) -> tuple[str, str]:
    """The avatar's badge as the job stands: a trained avatar whose portraits are still being
    rendered says so, not "Ready" (the page's script swaps it at each poll)."""
    rendering = any(job.kind == "render" and job.status in ACTIVE_JOB_STATUSES for job in jobs)
    if avatar.status == Avatar.Status.READY and rendering:
        return "rendering", _("Rendering portraits")
    return avatar.status, avatar.get_status_display()
