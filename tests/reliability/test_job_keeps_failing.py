"""A training job the engine can never run: it fails after its attempts, the avatar fails, the money goes back."""

import email
from email import policy

import pytest

from avatars.models import Avatar, TrainingJob
from orders.models import Order, Refund
from tests.workers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MAX_ATTEMPTS = 2
JOB_TIMEOUT = 240


def test_a_training_job_that_keeps_failing_ends_failed_refunded_and_the_user_told(
    workers, share_settings, paid_avatar, tmp_path
):
    mail_dir = tmp_path / "mail"
    share_settings(LIKENESS_JOB_MAX_ATTEMPTS=MAX_ATTEMPTS)
    # The worker's base model is missing: from_pretrained fails for real on every attempt.
    workers.start(["gpu"], env={
        "LIKENESS_BASE_MODEL": "/nonexistent/base-model",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    })
    avatar = paid_avatar()
    order = Order.objects.get(avatar=avatar)
    job = avatar.training_jobs.get()
    assert job.max_attempts == MAX_ATTEMPTS

    job = wait_until(lambda: TrainingJob.objects.filter(pk=job.pk, status="failed").first(),
                     timeout=JOB_TIMEOUT, message="the training job to fail for good")

    assert job.attempts == MAX_ATTEMPTS
    assert "nonexistent" in job.error
    assert job.finished_at is not None
    # Each attempt was a delivery of its own to the worker: the retry went back through the queue.
    assert len(workers.task_names("gpu")) == MAX_ATTEMPTS
    assert Avatar.objects.get(pk=avatar.pk).status == Avatar.Status.FAILED
    # Local test mode has no payment to send back to Stripe: the refund settles at once.
    order = wait_until(lambda: Order.objects.filter(pk=order.pk, status=Order.Status.REFUNDED).first(),
                       message="the order to be refunded")
    refund = Refund.objects.get()
    assert (refund.order_id, refund.status, refund.amount) == (order.pk, Refund.Status.SUCCEEDED, order.amount)
    assert refund.reason == "Avatar training failed"

    sent = wait_until(lambda: list(mail_dir.glob("*.log")) if mail_dir.is_dir() else [], message="the email")
    messages = [email.message_from_string(path.read_text(), policy=policy.default) for path in sent]
    assert [(m["To"], m["Subject"]) for m in messages] == [
        (avatar.user.email, "Your Likeness payment is on its way back")
    ]
    body = messages[0].get_content()
    assert order.reference in body and "Avatar training failed" in body
