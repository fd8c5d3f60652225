"""GPU jobs queued for an avatar: its training, and a failed job retried."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from avatars.gpu.job_stages import job_stage
from avatars.gpu.queue import job_enqueue
from avatars.models import Avatar, Photo, RenderJob, TrainingJob
from avatars.services.avatars import AvatarError


def training_job_create_for_order(*, order) -> TrainingJob:
    """Called by the order fulfilment, inside its transaction, once the payment is confirmed.

    Idempotent: an order has at most one training job, so a webhook delivered twice
    or a reconciliation racing a webhook queues the training once.
    """
    avatar = Avatar.objects.select_for_update().get(pk=order.avatar_id)
    job, created = TrainingJob.objects.get_or_create(
        order=order, defaults={"avatar": avatar, "max_attempts": settings.LIKENESS_JOB_MAX_ATTEMPTS}
    )
    if created:
        if avatar.status != Avatar.Status.PAID:
            avatar.transition_to(Avatar.Status.PAID)
        # A new payment buys a new build, whatever an earlier one's refund ended.
        avatar.refunded_at = None
        avatar.save(update_fields=["status", "refunded_at"])
        _choose_training_photos(avatar)
        job_enqueue(job=job)
    return job


def _choose_training_photos(avatar: Avatar) -> None:
    from avatars.engine.photo_sets import TrainingCandidate, choose_training_photos

    accepted = list(avatar.photos.filter(status=Photo.Status.ACCEPTED))
    chosen = set(
        choose_training_photos(
            [TrainingCandidate(key=str(p.pk), quality_score=p.quality_score or 0.0, embedding=p.embedding)
             for p in accepted],
            limit=settings.LIKENESS_TRAINING_PHOTOS,
        )
    )
    for photo in accepted:
        photo.selected_for_training = str(photo.pk) in chosen
    Photo.objects.bulk_update(accepted, ["selected_for_training"])


def job_retry(*, job: TrainingJob | RenderJob) -> None:
    """An operator's retry of a job that failed for good: a fresh set of attempts."""
    with transaction.atomic():
        job = type(job).objects.select_for_update().get(pk=job.pk)
        if job.status != job.Status.FAILED:
            raise AvatarError(
                _("Only failed jobs can be retried; this one is %(status)s.") % {"status": job.get_status_display().lower()}
            )
        avatar = Avatar.objects.select_for_update().get(pk=job.avatar_id)
        if avatar.refunded_at is not None:
            raise AvatarError(_("This avatar's payment was refunded: the customer has to pay again."))
        if isinstance(job, TrainingJob):
            avatar.transition_to(Avatar.Status.PAID)
            avatar.save(update_fields=["status"])
        elif avatar.status != Avatar.Status.READY:
            raise AvatarError(_("The avatar is not ready, so its portraits can't be rendered."))
        job.transition_to(job.Status.QUEUED)
        job.attempts = 0
        job.stage = job_stage("operator_retry")
        job.progress = 0
        job.save()
        job_enqueue(job=job)
