"""The GPU jobs' lifecycle: claim the row, report progress, record the outcome of an attempt.

Only the `gpu` cluster's worker runs these (through avatars.tasks); what a job does on the
GPU is in avatars.worker. Every entry point may run twice: a job that is already done,
cancelled or being run by a live worker is left alone.

A build that fails for good is reported, not refunded here: the task named by
settings.LIKENESS_ON_BUILD_FAILED decides what happens to the money (orders refunds it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from avatars import selectors
from avatars.models import Avatar, GpuJob, RenderJob, TrainingJob
from avatars.queue import broker_task_ids, enqueue_task, job_enqueue
from avatars.services import gpu_usage_record

logger = logging.getLogger(__name__)

# Progress writes are throttled to one a second: often enough for the stale-job sweep and the
# progress page, and it spares the database on fast GPUs.
PROGRESS_WRITE_INTERVAL_SECONDS = 1.0
JOB_MODELS = (TrainingJob, RenderJob)


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


def job_lock_own_attempt(job):
    """Lock the job's row for its outcome; JobAbandoned when this attempt no longer owns it.
    Call inside the transaction that records the outcome."""
    locked = type(job).objects.select_for_update().get(pk=job.pk)
    if locked.status != locked.Status.RUNNING or locked.attempts != job.attempts:
        raise JobAbandoned(f"{type(job).__name__} {job.pk} is no longer ours")
    return locked


def job_mark_succeeded(locked, *, started: float) -> None:
    """Record a finished attempt on the row job_lock_own_attempt returned."""
    locked.transition_to(locked.Status.SUCCEEDED)
    locked.stage = "done"
    locked.progress = 100
    locked.finished_at = timezone.now()
    locked.gpu_seconds += time.monotonic() - started
    locked.save()
    gpu_usage_record(job=locked)


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
            job_enqueue(job=locked)
        else:
            _job_fail_for_good(locked, error)


def _job_fail_for_good(job, error: str) -> None:
    """Record the permanent failure, under the job's row lock; report a build that failed for good."""
    job.transition_to(job.Status.FAILED)
    job.error = error[:5000]
    job.finished_at = timezone.now()
    job.save()
    avatar = Avatar.objects.select_for_update().get(pk=job.avatar_id)
    if isinstance(job, TrainingJob) and avatar.can_transition_to(Avatar.Status.FAILED):
        avatar.transition_to(Avatar.Status.FAILED)
        avatar.save(update_fields=["status"])
    if (isinstance(job, TrainingJob) or job.kind == RenderJob.Kind.INITIAL) and selectors.avatar_build_failure_reason(
        avatar=avatar
    ):
        # Queued in this transaction: the failure and its report commit together.
        enqueue_task(settings.LIKENESS_ON_BUILD_FAILED, avatar.pk)


def job_run(model, job_id: int, work: Callable) -> None:
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


# --- Sweeps -------------------------------------------------------------------------


def jobs_requeue_stale() -> int:
    """Requeue running jobs whose worker went quiet (killed, machine lost). Scheduled every minute."""
    cutoff = timezone.now() - timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS)
    requeued = 0
    for model in JOB_MODELS:
        stale = model.objects.filter(status=GpuJob.Status.RUNNING, heartbeat_at__lt=cutoff)
        for job_id in stale.values_list("pk", flat=True):
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
                    job_enqueue(job=job)
                requeued += 1
    return requeued


def jobs_requeue_lost(*, now=None) -> int:
    """Queue again the waiting jobs whose task the broker does not hold (lost by a crash, or a
    broker purged by hand), once they have waited LIKENESS_QUEUED_TASK_GRACE_SECONDS. A second
    task for a job is harmless: the claim runs it once. Scheduled with the stale-job sweep."""
    if settings.LIKENESS_RUN_JOBS_INLINE:
        return 0
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.LIKENESS_QUEUED_TASK_GRACE_SECONDS)
    candidates = {
        model: list(model.objects.filter(status=GpuJob.Status.QUEUED, queued_at__lt=cutoff).values_list("pk", flat=True))
        for model in JOB_MODELS
    }
    # Read after the candidates: a job queued since then has its task in this snapshot or is not a candidate.
    held = broker_task_ids()
    requeued = 0
    for model, job_ids in candidates.items():
        for job_id in job_ids:
            with transaction.atomic():
                job = model.objects.select_for_update().get(pk=job_id)
                if job.status != job.Status.QUEUED or (job.task_id and job.task_id in held):
                    continue
                logger.warning("%s %s was queued with no task in the broker; queued again", model.__name__, job_id)
                job_enqueue(job=job)
                requeued += 1
    return requeued
