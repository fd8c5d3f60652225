"""Avatar services: photos in, jobs queued, portraits out."""

from django.db import transaction

from avatars.models import Avatar, TrainingJob


def training_job_create_for_order(*, order) -> TrainingJob:
    """Called by the order fulfilment, inside its transaction, once the payment is confirmed.

    Idempotent: an order has at most one training job, so a webhook delivered twice
    or a reconciliation racing a webhook queues the training once.
    """
    from django.conf import settings

    avatar = Avatar.objects.select_for_update().get(pk=order.avatar_id)
    job, created = TrainingJob.objects.get_or_create(
        order=order, defaults={"avatar": avatar, "max_attempts": settings.LIKENESS_JOB_MAX_ATTEMPTS}
    )
    if created:
        if avatar.status != Avatar.Status.PAID:
            avatar.transition_to(Avatar.Status.PAID)
            avatar.save(update_fields=["status"])
        transaction.on_commit(lambda: training_job_enqueue(job_id=job.pk))
    return job


def training_job_enqueue(*, job_id: int) -> None:
    from avatars.tasks import enqueue_gpu_task

    enqueue_gpu_task("avatars.tasks.training_job_run", job_id)
