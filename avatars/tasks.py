"""django-q2 entry points: thin adapters that take ids and call the GPU worker (avatars.gpu), the
sweeps and the services.

Their dotted names are stored in the broker and in the schedules (migrations 0003, 0004, 0011 and
0014): keep them as they are. They may point into avatars.gpu directly only once a data migration has
rewritten every django_q Schedule.func that names them and the broker holds no task queued under the
old names (the queues drained, on every deployment). training_job_run and render_job_run serve tasks
queued before the fair queue only: they can go once no such task is left in any broker. The queue
client is avatars.gpu.queue.
"""


def gpu_next_job_run() -> None:
    """One turn of a GPU worker: the next waiting job, in the fair order (avatars.gpu.queue)."""
    from avatars.gpu.worker import gpu_next_job_execute

    gpu_next_job_execute()


# Tasks queued before the fair queue name their job; they still run it.
def training_job_run(job_id: int) -> None:
    from avatars.gpu.worker import training_job_execute

    training_job_execute(job_id=job_id)


def render_job_run(job_id: int) -> None:
    from avatars.gpu.worker import render_job_execute

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
    from avatars.gpu.jobs import jobs_sweep_loop

    return jobs_sweep_loop()
