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

from avatars.models import TrainingJob

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


def job_task_path(job) -> str:
    """The django-q entry point that runs a job of this kind (names frozen in avatars.tasks)."""
    return "avatars.tasks.training_job_run" if isinstance(job, TrainingJob) else "avatars.tasks.render_job_run"


def job_enqueue(*, job) -> None:
    """Queue a GPU job's task, in the caller's transaction, and note the task's id on the row."""
    task_id = enqueue_gpu_task(job_task_path(job), job.pk)
    if task_id:
        job.task_id = task_id
        type(job).objects.filter(pk=job.pk).update(task_id=task_id)


def broker_task_ids() -> set[str]:
    """The ids of every task the broker holds now: waiting, or pulled and not yet acknowledged."""
    from django_q.models import OrmQ

    return {queued.task_id() for queued in OrmQ.objects.all()}
