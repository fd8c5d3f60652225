"""A gpu worker killed with SIGKILL in the middle of a job: its job runs again within a minute,
on the worker that replaces it, and is done once.

Nothing here calls the sweep: the default cluster runs it from its django_q Schedule (avatars
migration 0003), with the shipped heartbeat, stale limit and sweep interval.
"""

import importlib
import time

import pytest
from django.apps import apps

from avatars.models import Avatar, Portrait, RenderJob, TrainingJob
from orders.models import Order, Refund
from tests.factories import StyleTemplateFactory
from tests.workers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# Long enough on the tiny engine that the kill lands mid-job, short enough to run twice.
# Long enough to be caught mid-job on a fast idle machine (progress is written once a second).
TRAINING_STEPS = 40
TRAINING_BATCH = 4
RENDER_STEPS = 100
JOB_TIMEOUT = 300
# Issue 22: a killed worker's job ran again 133 s and 165 s later; it must within a minute.
RECOVERY_SECONDS = 60


def kill_mid_job(workers, name: str, model, job_id: int, *, stage: str, past_progress: int):
    """Wait until the job is well into `stage`, then SIGKILL the whole cluster running it."""
    running = wait_until(
        lambda: model.objects.filter(pk=job_id, status="running", stage=stage, progress__gt=past_progress).first(),
        timeout=JOB_TIMEOUT, interval=0.05, message=f"{model.__name__} {job_id} to be {stage}",
    )
    workers.kill(name)
    return running


def schedule_the_sweep() -> None:
    """The schedule avatars migration 0003 made (a flushed test database lost it)."""
    importlib.import_module("avatars.migrations.0003_schedule_stale_job_sweep").schedule_sweep(apps, None)


def replaced_and_run_again_within_a_minute(workers, replacement: str, model, job_id: int, killed) -> None:
    """The dead worker's job still looks running; a replacement worker starts at once, and the
    job runs again (its second attempt) within RECOVERY_SECONDS of the kill."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    frozen = model.objects.get(pk=job_id)
    assert (frozen.status, frozen.attempts, frozen.progress) == ("running", 1, killed.progress)
    workers.start([replacement])
    wait_until(
        lambda: model.objects.filter(pk=job_id, attempts=2, status__in=["running", "succeeded"]).exists(),
        timeout=max(0.0, deadline - time.monotonic()),
        message=f"{model.__name__} {job_id} to run again within {RECOVERY_SECONDS}s of the kill",
    )


def files_under(root, folder: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / folder).rglob("*") if p.is_file())


def test_a_worker_killed_mid_training_then_mid_rendering_is_replaced_and_the_customer_charged_once(
    workers, share_settings, paid_avatar, private_media
):
    # Three photos' share of a large set, capped: exactly TRAINING_STEPS steps of 4.
    share_settings(LIKENESS_TRAIN_SAMPLES=100_000, LIKENESS_TRAIN_MAX_SAMPLES=TRAINING_STEPS * TRAINING_BATCH)
    schedule_the_sweep()
    workers.start(["default", "gpu"])
    avatar = paid_avatar(template=StyleTemplateFactory(steps=RENDER_STEPS))
    training = avatar.training_jobs.get()

    killed = kill_mid_job(workers, "gpu", TrainingJob, training.pk, stage="training", past_progress=2)
    assert killed.progress < 95
    replaced_and_run_again_within_a_minute(workers, "gpu-2", TrainingJob, training.pk, killed)

    training = wait_until(lambda: TrainingJob.objects.filter(pk=training.pk, status="succeeded").first(),
                          timeout=JOB_TIMEOUT, message="the second worker to finish the training")
    assert (training.attempts, training.progress, training.steps) == (2, 100, TRAINING_STEPS)
    render = wait_until(lambda: RenderJob.objects.filter(avatar=avatar).first(), message="the first render job")

    killed = kill_mid_job(workers, "gpu-2", RenderJob, render.pk, stage="rendering", past_progress=5)
    assert killed.progress < 95
    replaced_and_run_again_within_a_minute(workers, "gpu-3", RenderJob, render.pk, killed)

    render = wait_until(lambda: RenderJob.objects.filter(pk=render.pk, status="succeeded").first(),
                        timeout=JOB_TIMEOUT, message="the third worker to finish the render")
    assert render.attempts == 2
    avatar.refresh_from_db()
    assert avatar.status == Avatar.Status.READY
    # Done once: one LoRA, one render job with one portrait, and no file left by the killed attempts.
    assert files_under(private_media, "avatars") == [avatar.lora_file.name]
    assert RenderJob.objects.filter(avatar=avatar).count() == 1
    portrait = Portrait.objects.get(avatar=avatar)
    assert portrait.render_job_id == render.pk
    assert files_under(private_media, "portraits") == sorted(portrait.stored_file_names)
    # Charged once: one paid order, one training job for it, no refund.
    order = Order.objects.get(avatar=avatar)
    assert order.status == Order.Status.PAID
    assert TrainingJob.objects.filter(order=order).count() == 1
    assert not Refund.objects.exists()
