"""Claiming, retrying, giving up and requeueing GPU jobs: the bookkeeping around the engine."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from avatars.gpu import jobs
from avatars.gpu.queue import job_enqueue
from avatars.models import Avatar, RenderJob, TrainingJob
from orders.services import order_refund
from tests.factories import AvatarFactory, OrderFactory, RenderJobFactory, TrainingJobFactory

pytestmark = pytest.mark.django_db


def gpu_queue_size() -> int:
    return OrmQ.objects.filter(key="gpu").count()


def run_queued_task(task: dict):
    """Run one task as a django-q worker would: its function, by dotted path, with its arguments."""
    return import_string(task["func"])(*task["args"], **task.get("kwargs", {}))


def stale_time():
    return timezone.now() - timedelta(hours=1)


def test_claim_marks_a_queued_job_running_and_counts_the_attempt():
    job = TrainingJobFactory(avatar=AvatarFactory(status=Avatar.Status.PAID))

    claimed = jobs._job_claim(TrainingJob, job.pk)

    assert claimed.status == "running" and claimed.attempts == 1 and claimed.heartbeat_at is not None
    assert Avatar.objects.get(pk=job.avatar_id).status == Avatar.Status.TRAINING


@pytest.mark.parametrize("status", ["succeeded", "cancelled", "failed"])
def test_claim_leaves_finished_jobs_alone(status):
    job = TrainingJobFactory(status=status, attempts=1)

    assert jobs._job_claim(TrainingJob, job.pk) is None
    job.refresh_from_db()
    assert job.status == status and job.attempts == 1


def test_claim_leaves_a_job_that_a_live_worker_is_running():
    job = RenderJobFactory(status="running", attempts=1, heartbeat_at=timezone.now())

    assert jobs._job_claim(RenderJob, job.pk) is None
    assert RenderJob.objects.get(pk=job.pk).attempts == 1


def test_claim_takes_over_a_job_whose_worker_went_quiet():
    job = RenderJobFactory(status="running", attempts=1, heartbeat_at=stale_time())

    claimed = jobs._job_claim(RenderJob, job.pk)

    assert claimed.status == "running" and claimed.attempts == 2


def test_claim_gives_up_after_the_last_attempt_and_fails_the_avatar():
    avatar = AvatarFactory(status=Avatar.Status.TRAINING)
    job = TrainingJobFactory(avatar=avatar, status="queued", attempts=3, max_attempts=3, error="boom")

    assert jobs._job_claim(TrainingJob, job.pk) is None

    job.refresh_from_db()
    assert job.status == "failed" and job.error == "boom"
    assert Avatar.objects.get(pk=avatar.pk).status == Avatar.Status.FAILED


def test_a_failed_attempt_is_retried_while_attempts_remain(django_capture_on_commit_callbacks):
    job = jobs._job_claim(RenderJob, RenderJobFactory(max_attempts=2).pk)

    with django_capture_on_commit_callbacks(execute=True):
        jobs._job_fail_attempt(job, "RuntimeError: out of memory", 1.5)

    job.refresh_from_db()
    assert job.status == "queued" and job.error.startswith("RuntimeError") and job.gpu_seconds == 1.5
    assert gpu_queue_size() == 1


def test_a_stale_failure_report_from_an_old_attempt_changes_nothing():
    job = jobs._job_claim(RenderJob, RenderJobFactory().pk)
    RenderJob.objects.filter(pk=job.pk).update(attempts=2)

    jobs._job_fail_attempt(job, "late news", 1.0)

    assert RenderJob.objects.get(pk=job.pk).status == "running"


def test_sweep_requeues_running_jobs_with_a_stale_heartbeat(django_capture_on_commit_callbacks):
    stale = RenderJobFactory(status="running", attempts=1, heartbeat_at=stale_time())
    live = RenderJobFactory(status="running", attempts=1, heartbeat_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.jobs_requeue_stale() == 1

    assert RenderJob.objects.get(pk=stale.pk).status == "queued"
    assert RenderJob.objects.get(pk=live.pk).status == "running"
    assert gpu_queue_size() == 1


def test_sweep_fails_a_training_job_out_of_attempts_and_its_order_is_refunded(django_capture_on_commit_callbacks):
    order = OrderFactory(status="paid", stripe_payment_intent_id="pi_local")
    order.avatar.status = Avatar.Status.TRAINING
    order.avatar.save()
    job = TrainingJobFactory(avatar=order.avatar, order=order, status="running", attempts=3, max_attempts=3,
                             heartbeat_at=stale_time())

    jobs.jobs_requeue_stale()

    job.refresh_from_db()
    assert job.status == "failed"
    assert Avatar.objects.get(pk=order.avatar_id).status == Avatar.Status.FAILED
    assert gpu_queue_size() == 0
    # avatars only reports the failure: orders' task, queued with it, gives the money back.
    [report] = [queued.task for queued in OrmQ.objects.filter(key="default")]
    assert (report["func"], report["args"]) == ("orders.tasks.order_refund_failed_build", (order.avatar_id,))
    assert order.refunds.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        run_queued_task(report)
    assert order.refunds.get().reason == "Avatar training failed"


def test_progress_reporter_stops_work_once_the_job_is_cancelled():
    job = jobs._job_claim(RenderJob, RenderJobFactory().pk)
    report = jobs.ProgressReporter(job)
    report("rendering", 10, force=True)
    RenderJob.objects.filter(pk=job.pk).update(status="cancelled")

    with pytest.raises(jobs.JobAbandoned):
        report("rendering", 20, force=True)


def retry_through_admin(client, model_name: str, job) -> str:
    from django.urls import reverse

    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse(f"admin:avatars_{model_name}_changelist"),
        {"action": "retry_jobs", "_selected_action": [job.pk]}, follow=True,
    )
    return response.content.decode()


def test_an_operator_retries_a_failed_render_from_the_admin(client, django_capture_on_commit_callbacks):
    job = RenderJobFactory(avatar=AvatarFactory(status=Avatar.Status.READY), status="failed", attempts=3)

    with django_capture_on_commit_callbacks(execute=True):
        page = retry_through_admin(client, "renderjob", job)

    job.refresh_from_db()
    assert "Queued 1 job(s) again." in page
    assert (job.status, job.attempts) == ("queued", 0)
    assert gpu_queue_size() == 1


def test_the_admin_refuses_to_retry_training_of_a_refunded_order(client):
    order = OrderFactory(status="paid")
    Avatar.objects.filter(pk=order.avatar_id).update(status=Avatar.Status.FAILED)
    job = TrainingJobFactory(avatar=order.avatar, order=order, status="failed", attempts=3)
    order_refund(order=order, reason="Avatar training failed")

    page = retry_through_admin(client, "trainingjob", job)

    assert "payment was refunded" in page
    assert TrainingJob.objects.get(pk=job.pk).status == "failed"
    assert gpu_queue_size() == 0


def test_the_sweep_gives_a_turn_to_each_waiting_job_whose_task_the_broker_lost(settings):
    settings.LIKENESS_QUEUED_TASK_GRACE_SECONDS = 60
    ready = AvatarFactory(status=Avatar.Status.READY)
    RenderJobFactory(avatar=ready)  # young, and its turn lost too
    assert jobs.jobs_requeue_lost() == 0  # nothing has waited past the grace period yet

    lost = RenderJobFactory(avatar=ready, task_id="gone-with-a-crash")
    held = RenderJobFactory(avatar=ready)
    job_enqueue(job=held)
    RenderJob.objects.filter(pk__in=[lost.pk, held.pk]).update(queued_at=stale_time())

    assert jobs.jobs_requeue_lost() == 2  # a turn for `lost`, and one for the young job

    assert gpu_queue_size() == 3
    assert jobs.jobs_requeue_lost() == 0


def test_a_task_pulled_by_a_worker_that_died_is_no_turn_for_the_job_it_would_have_run(settings):
    settings.LIKENESS_QUEUED_TASK_GRACE_SECONDS = 60
    ready = AvatarFactory(status=Avatar.Status.READY)
    running = RenderJobFactory(avatar=ready, status="running", heartbeat_at=timezone.now())
    waiting = RenderJobFactory(avatar=ready)
    for job in (running, waiting):
        job_enqueue(job=job)
    RenderJob.objects.filter(pk=waiting.pk).update(queued_at=stale_time())
    # Both tasks pulled, as the broker does: locked until the cluster's retry. The live worker
    # runs `running`; the cluster that pulled the other was killed.
    OrmQ.objects.filter(key="gpu").update(lock=timezone.now() + timedelta(hours=1))

    assert jobs.jobs_requeue_lost() == 1  # a fresh turn for `waiting`, not in an hour

    assert OrmQ.objects.filter(key="gpu", lock__lte=timezone.now()).count() == 1
    assert jobs.jobs_requeue_lost() == 0
