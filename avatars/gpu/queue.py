"""The job-queue client: how the apps hand work to django-q2's clusters.

A leaf module: it imports no worker code (no engine, no torch), so the web process and the
services can queue GPU work without loading any of it.

The broker is django-q2's ORM broker on the site's own database (settings.Q_CLUSTER["orm"]),
so a task is queued *inside* the caller's transaction: the job row and its task commit
together or not at all. Queued in `on_commit` instead, a process that died between the commit
and the callback would leave a queued job that no worker ever hears of.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

GPU_CLUSTER = "gpu"


def enqueue_task(func_path: str, *args, cluster: str | None = None) -> str | None:
    """Queue `func_path(*args)` for `cluster` (None: the default, CPU cluster); returns the task id.

    With LIKENESS_RUN_JOBS_INLINE (tests, demos) there is no broker: the function runs in this
    process once the caller's transaction commits, as a worker would see it.
    """
    if settings.LIKENESS_RUN_JOBS_INLINE:
        transaction.on_commit(lambda: import_string(func_path)(*args))
        return None
    from django_q.tasks import async_task

    return async_task(func_path, *args, cluster=cluster) if cluster else async_task(func_path, *args)


def enqueue_gpu_task(func_path: str, *args) -> str | None:
    return enqueue_task(func_path, *args, cluster=GPU_CLUSTER)


# A GPU task names no job: each one runs the next waiting job in the fair order
# (avatars.gpu.scheduling.gpu_queue_order), so the broker's first-in-first-out order can't let one
# person's many re-rolls hold everyone else back. One task is queued per waiting job.
GPU_NEXT_JOB_TASK = "avatars.tasks.gpu_next_job_run"


def job_enqueue(*, job) -> None:
    """Queue a worker's turn for a waiting GPU job, in the caller's transaction, and note the
    task's id on the row."""
    task_id = enqueue_gpu_task(GPU_NEXT_JOB_TASK)
    if task_id:
        job.task_id = task_id
        type(job).objects.filter(pk=job.pk).update(task_id=task_id)


def gpu_turns_queued(*, held_by_live_workers_at_most: int) -> int:
    """How many GPU tasks will still run: those waiting in the broker, and those workers have
    pulled, counting at most `held_by_live_workers_at_most` of these (the jobs running with a
    fresh heartbeat). A task pulled by a cluster that died stays locked in the broker for the
    cluster's retry (an hour): it would hold a waiting job back that long if counted."""
    from django.utils import timezone
    from django_q.models import OrmQ

    tasks = OrmQ.objects.filter(key=GPU_CLUSTER)
    now = timezone.now()
    # The ORM broker's lock: when queued, the time it was queued; once pulled, when it may be
    # delivered again.
    waiting = tasks.filter(lock__lte=now).count()
    return waiting + min(tasks.filter(lock__gt=now).count(), held_by_live_workers_at_most)
