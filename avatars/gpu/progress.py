"""What a waiting customer sees of the GPU queue: each job's progress, queue position, wait and ETA,
from the queue estimates shared through the cache (avatars.gpu.estimates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db.models import (
    F,
    JSONField,
    Value,
)
from django.utils.translation import gettext as _

from avatars.gpu.estimates import QueueEstimates, gpu_queue_estimates
from avatars.gpu.job_stages import job_stage_words
from avatars.models import Avatar, GpuJob, RenderJob, TrainingJob
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
    wait_seconds: int | None  # until a GPU worker takes it (waiting jobs), when there is a basis
    eta_seconds: int | None


def _seconds_shown(seconds: float) -> int:
    """A wait about as precise as the page words it (to a tenth or better: whole seconds under
    10 s, 5 s steps under a minute and a half, half minutes under ten, then whole minutes): an
    answer stays the same, and a poll gets its 304, until the words would change."""
    step = 1 if seconds < 10 else 5 if seconds < 90 else 30 if seconds < 600 else 60
    return int(round(seconds / step) * step)


def _eta(job, estimates: QueueEstimates | None, kind: str) -> tuple[int | None, int | None]:
    """(seconds until a worker takes the job, seconds until it is done): the rest of it when
    running; when waiting, its place in the queue played forward, then the job itself. None
    where there is no basis for a number."""
    if estimates is None:
        return None, None
    if job.status == GpuJob.Status.RUNNING:
        remaining = estimates.remaining_seconds(kind=kind, table=job.table, job_id=job.pk, progress=job.progress)
        return None, None if remaining is None else _seconds_shown(remaining)
    wait = estimates.wait_for(job.table, job.pk)
    if wait is None or wait.start_seconds is None:
        return None, None
    start = _seconds_shown(wait.start_seconds)
    return start, None if wait.own_seconds is None else _seconds_shown(wait.start_seconds + wait.own_seconds)


def _queue_position(estimates: QueueEstimates | None, job) -> int | None:
    if estimates is None or job.status != GpuJob.Status.QUEUED:
        return None
    wait = estimates.wait_for(job.table, job.pk)
    return wait.ahead if wait is not None else None


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
    estimates = gpu_queue_estimates() if any(job.is_active for job in shown) else None
    jobs: list[JobProgress] = []
    if training is not None:
        wait, eta = _eta(training, estimates, "training") if training.is_active else (None, None)
        jobs.append(JobProgress(
            kind="training", label=_("Training your avatar"), status=training.status,
            stage=job_stage_words(training.stage),
            progress=training.progress,
            queue_position=_queue_position(estimates, training),
            wait_seconds=wait, eta_seconds=eta,
        ))
    for job in renders:
        wait, eta = _eta(job, estimates, job.kind) if job.is_active else (None, None)
        jobs.append(JobProgress(
            kind="render", status=job.status, stage=job_stage_words(job.stage), progress=job.progress,
            label=_("%(kind)s: %(template)s") % {
                "kind": RenderJob.Kind(job.kind).label,
                "template": style_text_translated(
                    translations=job.template_translations, field="title", written=job.template_title,
                ),
            },
            queue_position=_queue_position(estimates, job), wait_seconds=wait, eta_seconds=eta,
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
        # No number unless every job still to finish has one.
        "eta_seconds": (
            max(j.eta_seconds for j in active) or None
            if active and all(j.eta_seconds is not None for j in active) else None
        ),
    }


def _avatar_badge(avatar: Avatar, jobs: list[JobProgress]) -> tuple[str, str]:
    """The avatar's badge as the job stands: a trained avatar whose portraits are still being
    rendered says so, not "Ready" (the page's script swaps it at each poll)."""
    rendering = any(job.kind == "render" and job.status in ACTIVE_JOB_STATUSES for job in jobs)
    if avatar.status == Avatar.Status.READY and rendering:
        return "rendering", _("Rendering portraits")
    return avatar.status, avatar.get_status_display()
