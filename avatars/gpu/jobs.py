"""The GPU jobs' lifecycle: claim the row, report progress, record the outcome of an attempt.

Only the `gpu` cluster's worker runs these (through avatars.tasks); what a job does on the
GPU is in avatars.gpu.worker. Every entry point may run twice: a job that is already done,
cancelled or being run by a live worker is left alone.

A build that fails for good is reported, not refunded here: the task named by
settings.LIKENESS_ON_BUILD_FAILED decides what happens to the money (orders refunds it).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from avatars import selectors
from avatars.gpu.job_stages import job_stage
from avatars.gpu.queue import GPU_NEXT_JOB_TASK, enqueue_gpu_task, enqueue_task, gpu_turns_queued, job_enqueue
from avatars.gpu.scheduling import QUEUE_CLASS_FIRST_PORTRAITS, QUEUE_CLASS_TRAINING, gpu_queue_order
from avatars.models import JOB_MODELS, Avatar, GpuJob, RenderJob, TrainingJob
from avatars.services import gpu_usage_record

logger = logging.getLogger(__name__)

# Progress writes are throttled to one a second: often enough for the progress page, and it
# spares the database on fast GPUs. The heartbeat does not wait for them (JobHeartbeat).
PROGRESS_WRITE_INTERVAL_SECONDS = 1.0
# django-q2 starts a scheduled task at most once a minute, and looks at its schedules every
# 30 seconds, so a minute's schedule may start up to 90 seconds after the one before. Each run
# of the sweep keeps looking that long, so one is always looking; a newer run ends the older.
SWEEP_LOOP_SECONDS = 90
SWEEP_LOOP_CACHE_KEY = "avatars:jobs-sweep-loop"


class JobAbandoned(Exception):
    """The job row was cancelled or taken over while this worker ran it."""


class JobFailedForGood(Exception):
    """The work can't succeed by trying again (a weak avatar after its second training): the job
    fails now, without its remaining attempts. The message is for the customer: an English
    sentence marked gettext_noop, its `%(name)s` figures in `params`, worded when read."""

    def __init__(self, message: str, params: dict | None = None):
        self.message = message
        self.params = params or {}
        super().__init__(message % self.params if self.params else message)


def _heartbeat_is_fresh(job) -> bool:
    if job.heartbeat_at is None:
        return False
    return timezone.now() - job.heartbeat_at < timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS)


class _Overtaken:
    """A claim given up: work of an earlier class came in after the order was read."""


OVERTAKEN = _Overtaken()


def _earlier_work_waiting(queue_class: int) -> bool:
    """Whether a job of a class before `queue_class` waits now (committed since the order was read)."""
    if queue_class > QUEUE_CLASS_TRAINING and TrainingJob.objects.filter(status=GpuJob.Status.QUEUED).exists():
        return True
    return queue_class > QUEUE_CLASS_FIRST_PORTRAITS and RenderJob.objects.filter(
        status=GpuJob.Status.QUEUED, kind=RenderJob.Kind.INITIAL
    ).exists()


def _job_claim(model, job_id: int, *, queue_class: int | None = None):
    """Lock the job and mark it running for this attempt, or return None when there is nothing to do.

    With `queue_class` (a claim in the fair order), OVERTAKEN when work of an earlier class waits
    by now: the order was read before it was queued, and the worker must read it again. Checked
    under the job's lock, just before this claim commits, so a re-roll never starts once a
    training or a first portrait is there to go before it."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (job.Status.SUCCEEDED, job.Status.CANCELLED, job.Status.FAILED):
            return None
        if queue_class is not None and job.status == job.Status.QUEUED and _earlier_work_waiting(queue_class):
            return OVERTAKEN
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
        job.stage = job_stage("starting")
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
        self._write(stage=stage, progress=max(0, min(99, progress)))

    def write_now(self, **fields) -> None:
        """Write `fields` on the job's row at once (a validation point, say), with a heartbeat."""
        self._write(**fields)

    def _write(self, **fields) -> None:
        updated = self.model.objects.filter(
            pk=self.job_id, status=self.model.Status.RUNNING, attempts=self.attempt
        ).update(heartbeat_at=timezone.now(), **fields)
        if not updated:
            raise JobAbandoned(f"{self.model.__name__} {self.job_id} is no longer ours")


def job_lock_own_attempt(job):
    """Lock the job's row for its outcome; JobAbandoned when this attempt no longer owns it.
    Call inside the transaction that records the outcome."""
    locked = type(job).objects.select_for_update().get(pk=job.pk)
    if locked.status != locked.Status.RUNNING or locked.attempts != job.attempts:
        raise JobAbandoned(f"{type(job).__name__} {job.pk} is no longer ours")
    return locked


def job_mark_succeeded(locked, *, started: float, stage: str = "done") -> None:
    """Record a finished attempt on the row job_lock_own_attempt returned."""
    locked.transition_to(locked.Status.SUCCEEDED)
    locked.stage = stage
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
            locked.stage = job_stage("retrying")
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
    if job is not None:
        _job_work(job, work)


# Each re-read follows work of an earlier class arriving during a claim: a handful at most.
ORDER_READS_PER_TURN = 20


def job_run_next(works: dict[type, Callable]) -> bool:
    """Claim the first waiting job, in the fair order, that no other worker has taken, and run
    it with `works[its model]`. False when there was none. The order is read again when earlier
    work came in while it was being read (the claim says OVERTAKEN)."""
    for read in range(ORDER_READS_PER_TURN):
        # The last read claims what it finds: a turn given up would leave a waiting job no turn.
        checked = read < ORDER_READS_PER_TURN - 1
        for queued in gpu_queue_order():
            job = _job_claim(queued.model, queued.job_id, queue_class=queued.queue_class if checked else None)
            if job is OVERTAKEN:
                break
            if job is not None:
                _job_work(job, works[queued.model])
                return True
        else:
            return False
    return False


class JobHeartbeat:
    """Writes the heartbeat of one attempt every settings.LIKENESS_HEARTBEAT_SECONDS, from a
    thread of its own, for as long as the worker runs the work: only a dead worker (or machine)
    goes quiet, never a live one in a slow step. Each write is fenced on the attempt, so it
    stops once the row moved on (taken over, cancelled or finished)."""

    def __init__(self, job):
        self.model = type(job)
        self.job_id = job.pk
        self.attempt = job.attempts
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-{self.model.__name__}-{self.job_id}", daemon=True
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.LIKENESS_HEARTBEAT_SECONDS):
                try:
                    beating = self.model.objects.filter(
                        pk=self.job_id, status=self.model.Status.RUNNING, attempts=self.attempt
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    # The database is away (a restart, a failover): beat again once it is back.
                    # If it stays away longer than the stale limit, the job is taken over.
                    logger.warning("Heartbeat of %s %s not written", self.model.__name__, self.job_id, exc_info=True)
                    connection.close_if_unusable_or_obsolete()
                    continue
                if not beating:
                    return
        finally:
            connection.close()


def _job_work(job, work: Callable) -> None:
    model, job_id = type(job), job.pk
    started = time.monotonic()
    report = ProgressReporter(job)
    try:
        with JobHeartbeat(job):
            report(job_stage("loading_model"), 1, force=True)
            work(job, report, started)
    except JobAbandoned:
        logger.info("%s %s was taken over or cancelled; stopping", model.__name__, job_id)
    except JobFailedForGood as failure:
        logger.warning("%s %s failed for good: %s", model.__name__, job_id, failure)
        with transaction.atomic():
            locked = type(job).objects.select_for_update().get(pk=job.pk)
            if locked.status == locked.Status.RUNNING and locked.attempts == job.attempts:
                locked.gpu_seconds += time.monotonic() - started
                if isinstance(locked, TrainingJob):
                    locked.failure_reason = str(failure)[:300]
                    locked.failure_reason_parts = {"message": failure.message, "params": failure.params}
                _job_fail_for_good(locked, str(failure))
    except Exception as exc:
        logger.exception("%s %s failed (attempt %s)", model.__name__, job_id, job.attempts)
        _job_fail_attempt(job, f"{type(exc).__name__}: {exc}", time.monotonic() - started)


# --- Sweeps -------------------------------------------------------------------------


def jobs_sweep_loop() -> int:
    """Sweep for stale and lost jobs every settings.LIKENESS_STALE_SWEEP_SECONDS for
    SWEEP_LOOP_SECONDS, or until a newer loop starts (the schedule starts one every minute).
    Returns the jobs requeued and the tasks queued."""
    loop_id = uuid.uuid4().hex
    cache.set(SWEEP_LOOP_CACHE_KEY, loop_id, timeout=int(SWEEP_LOOP_SECONDS) + 60)
    deadline = time.monotonic() + SWEEP_LOOP_SECONDS
    swept = 0
    while True:
        swept += jobs_requeue_stale() + jobs_requeue_lost()
        if time.monotonic() + settings.LIKENESS_STALE_SWEEP_SECONDS > deadline:
            return swept
        time.sleep(settings.LIKENESS_STALE_SWEEP_SECONDS)
        # With a cache shared by the workers (Redis), a newer loop ends this one.
        if cache.get(SWEEP_LOOP_CACHE_KEY) != loop_id:
            return swept


def jobs_requeue_stale() -> int:
    """Requeue running jobs whose worker went quiet (killed, machine lost). The sweep loop runs
    it every few seconds (jobs_sweep_loop)."""
    cutoff = timezone.now() - timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS)
    requeued = 0
    for model in JOB_MODELS.values():
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
                    job.stage = job_stage("requeued")
                    job.save()
                    job_enqueue(job=job)
                requeued += 1
    return requeued


def jobs_requeue_lost(*, now=None) -> int:
    """Give the workers a turn for every waiting or running job the broker holds no task for
    (lost by a crash, or a broker purged by hand), once a job has waited
    LIKENESS_QUEUED_TASK_GRACE_SECONDS. Each GPU task runs the next job in the fair order, so
    one more task than needed is harmless: it finds nothing to do. Run with the stale-job
    sweep. Returns the number of tasks queued."""
    if settings.LIKENESS_RUN_JOBS_INLINE:
        return 0
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.LIKENESS_QUEUED_TASK_GRACE_SECONDS)
    if not any(model.objects.filter(status=GpuJob.Status.QUEUED, queued_at__lt=cutoff).exists() for model in JOB_MODELS.values()):
        return 0
    with transaction.atomic():
        # Counted in one transaction with the queueing: a job's task commits with the job.
        active = sum(model.objects.filter(status__in=selectors.ACTIVE_JOB_STATUSES).count() for model in JOB_MODELS.values())
        beating = sum(
            model.objects.filter(
                status=GpuJob.Status.RUNNING,
                heartbeat_at__gte=timezone.now() - timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS),
            ).count()
            for model in JOB_MODELS.values()
        )
        missing = active - gpu_turns_queued(held_by_live_workers_at_most=beating)
        for _ in range(missing):
            enqueue_gpu_task(GPU_NEXT_JOB_TASK)
    if missing > 0:
        logger.warning("%s GPU job(s) had no task in the broker; queued %s", missing, missing)
    return max(0, missing)
