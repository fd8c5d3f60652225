"""django-q2 tasks: thin adapters that take ids and call the jobs and services."""

from django.conf import settings


def enqueue_gpu_task(func_path: str, *args) -> str | None:
    """Queue work for the `gpu` cluster, or run it now when LIKENESS_RUN_JOBS_INLINE is set."""
    if settings.LIKENESS_RUN_JOBS_INLINE:
        from django.utils.module_loading import import_string

        import_string(func_path)(*args)
        return None
    from django_q.tasks import async_task

    return async_task(func_path, *args, cluster="gpu")


def training_job_run(job_id: int) -> None:
    from avatars.jobs import training_job_execute

    training_job_execute(job_id=job_id)


def render_job_run(job_id: int) -> None:
    from avatars.jobs import render_job_execute

    render_job_execute(job_id=job_id)


def avatars_forget_photos_after_failure() -> int:
    from avatars.services import avatars_forget_photos_after_failure as forget

    return forget()


def jobs_requeue_stale() -> int:
    from avatars.jobs import jobs_requeue_stale as sweep

    return sweep()
