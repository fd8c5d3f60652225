"""A gpu worker killed with SIGKILL in the middle of a job: its job is taken over and done once.

The stale-job sweep (avatars.jobs.jobs_requeue_stale) runs here, in the test process. In
production the default cluster runs it from a django_q Schedule once a minute (avatars
migration 0003); calling it directly runs the same code without waiting up to a minute
for the scheduler, and the test decides when it runs, after the heartbeat has gone stale.
"""

import pytest

from avatars.jobs import jobs_requeue_stale
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
STALE_SECONDS = 3
JOB_TIMEOUT = 300


def kill_mid_job(workers, name: str, model, job_id: int, *, stage: str, past_progress: int):
    """Wait until the job is well into `stage`, then SIGKILL the whole cluster running it."""
    running = wait_until(
        lambda: model.objects.filter(pk=job_id, status="running", stage=stage, progress__gt=past_progress).first(),
        timeout=JOB_TIMEOUT, interval=0.05, message=f"{model.__name__} {job_id} to be {stage}",
    )
    workers.kill(name)
    return running


def requeue_once_stale(model, job_id: int, killed) -> None:
    """The dead worker's job still looks running, until its heartbeat is older than the limit."""
    frozen = model.objects.get(pk=job_id)
    assert (frozen.status, frozen.attempts, frozen.progress) == ("running", 1, killed.progress)
    assert wait_until(jobs_requeue_stale, timeout=STALE_SECONDS + 30, message="the sweep to requeue it") == 1
    assert model.objects.get(pk=job_id).status == "queued"


def files_under(root, folder: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / folder).rglob("*") if p.is_file())


def test_a_worker_killed_mid_training_then_mid_rendering_is_replaced_and_the_customer_charged_once(
    workers, share_settings, paid_avatar, private_media
):
    share_settings(LIKENESS_HEARTBEAT_STALE_SECONDS=STALE_SECONDS,
                   # Three photos' share of a large set, capped: exactly TRAINING_STEPS steps of 4.
                   LIKENESS_TRAIN_SAMPLES=100_000, LIKENESS_TRAIN_MAX_SAMPLES=TRAINING_STEPS * TRAINING_BATCH)
    workers.start(["gpu"])
    avatar = paid_avatar(template=StyleTemplateFactory(steps=RENDER_STEPS))
    training = avatar.training_jobs.get()

    killed = kill_mid_job(workers, "gpu", TrainingJob, training.pk, stage="training", past_progress=2)
    assert killed.progress < 95
    requeue_once_stale(TrainingJob, training.pk, killed)
    workers.start(["gpu-2"])

    training = wait_until(lambda: TrainingJob.objects.filter(pk=training.pk, status="succeeded").first(),
                          timeout=JOB_TIMEOUT, message="the second worker to finish the training")
    assert (training.attempts, training.progress, training.steps) == (2, 100, TRAINING_STEPS)
    render = wait_until(lambda: RenderJob.objects.filter(avatar=avatar).first(), message="the first render job")

    killed = kill_mid_job(workers, "gpu-2", RenderJob, render.pk, stage="rendering", past_progress=5)
    assert killed.progress < 95
    requeue_once_stale(RenderJob, render.pk, killed)
    workers.start(["gpu-3"])

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
