"""django-q2 tasks: thin adapters that take ids and call services."""

from django.conf import settings


def enqueue_gpu_task(func_path: str, *args) -> None:
    """Queue work for the `gpu` cluster (or run it now when LIKENESS_RUN_JOBS_INLINE is set)."""
    from django_q.tasks import async_task

    if settings.LIKENESS_RUN_JOBS_INLINE:
        from django.utils.module_loading import import_string

        import_string(func_path)(*args)
        return
    async_task(func_path, *args, cluster="gpu")


def training_job_run(job_id: int) -> None:
    from avatars.jobs import training_job_execute

    training_job_execute(job_id=job_id)
