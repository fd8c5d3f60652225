"""Several GPU workers on one PostgreSQL share a queue; one is SIGKILLed mid-job. The others
keep working, the killed worker's job runs again on one of them, and every job is done once."""

import pytest
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django_q.models import OrmQ

from avatars import services
from avatars.models import Portrait, RenderJob
from tests.factories import StyleTemplateFactory
from tests.reliability.test_worker_killed import JOB_TIMEOUT, RENDER_STEPS, schedule_the_sweep
from tests.workers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

JOBS = 6


def test_a_killed_workers_job_is_done_once_by_the_workers_still_running(
    workers, share_settings, trained_avatar, private_media
):
    schedule_the_sweep()
    template = StyleTemplateFactory(steps=RENDER_STEPS)
    with transaction.atomic():
        job_ids = [services.render_job_create(avatar=trained_avatar, template=template, kind=RenderJob.Kind.EXTRA).pk
                   for _ in range(JOBS)]
    workers.start(["default", "gpu-a", "gpu-b", "gpu-c"])
    running = RenderJob.objects.filter(pk__in=job_ids, status="running", stage="rendering", progress__gt=5)
    wait_until(lambda: running.count() >= 2, timeout=JOB_TIMEOUT, interval=0.05, message="two workers mid-render")

    workers.kill("gpu-a")
    # The killed worker's job is the one whose heartbeat (written every second) stops.
    killed = wait_until(
        lambda: RenderJob.objects.filter(
            pk__in=job_ids, status="running", heartbeat_at__lt=timezone.now() - timezone.timedelta(seconds=3)
        ).first(),
        timeout=30, interval=0.2, message="the killed worker's job to fall silent",
    )
    assert killed.attempts == 1

    wait_until(lambda: RenderJob.objects.filter(pk__in=job_ids, status="succeeded").count() == JOBS
               or RenderJob.objects.filter(pk__in=job_ids, status="failed").exists(),
               timeout=JOB_TIMEOUT, interval=0.5, message=f"{JOBS} render jobs to end")
    attempts = dict(RenderJob.objects.filter(pk__in=job_ids).values_list("pk", "attempts"))
    assert set(RenderJob.objects.filter(pk__in=job_ids).values_list("status", flat=True)) == {"succeeded"}
    assert attempts.pop(killed.pk) == 2  # taken over once, by a worker still running
    assert set(attempts.values()) == {1}
    per_job = Portrait.objects.filter(render_job__in=job_ids).values("render_job").annotate(n=Count("pk"))
    assert sorted(row["n"] for row in per_job) == [1] * JOBS
    assert not OrmQ.objects.filter(key="gpu").exists()
    # The workers that were not killed did the rest, the killed job's second attempt included.
    assert workers.task_names("gpu-b") and workers.task_names("gpu-c")
