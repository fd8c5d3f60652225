"""django-q2 entry points: thin adapters that take ids and call the worker, the sweeps and the services.

Their dotted names are stored in the broker and in the schedules (migrations 0003, 0004 and 0011):
keep them as they are. The queue client is avatars.queue.
"""


def gpu_next_job_run() -> None:
    """One turn of a GPU worker: the next waiting job, in the fair order (avatars.queue)."""
    from avatars.worker import gpu_next_job_execute

    gpu_next_job_execute()


# Tasks queued before the fair queue name their job; they still run it.
def training_job_run(job_id: int) -> None:
    from avatars.worker import training_job_execute

    training_job_execute(job_id=job_id)


def render_job_run(job_id: int) -> None:
    from avatars.worker import render_job_execute

    render_job_execute(job_id=job_id)


def avatars_forget_photos_after_failure() -> int:
    from avatars.services import avatars_forget_photos_after_failure as forget

    return forget()


def avatars_forget_unpaid_photos() -> int:
    from avatars.services import avatars_forget_unpaid_photos as forget

    return forget()


def media_orphans_delete() -> list[str]:
    """The daily sweep of stored files no row points to."""
    from avatars.services import media_orphans_delete as delete_orphans

    return delete_orphans()


def jobs_requeue_stale() -> int:
    """The stale-job sweep, started every minute, looking every few seconds: running jobs whose
    worker went quiet, and waiting jobs whose task the broker lost."""
    from avatars.jobs import jobs_sweep_loop

    return jobs_sweep_loop()
