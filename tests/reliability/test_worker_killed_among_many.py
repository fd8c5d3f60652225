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
from tests.reliability.test_worker_killed import JOB_TIMEOUT, schedule_the_sweep
from tests.workers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

JOBS = 3
# Long enough that the kill lands mid-render, short enough for one worker to do the rest on two
# busy cores (the single-job test uses 100).
RENDER_STEPS = 30


def test_a_killed_workers_job_is_done_once_by_the_workers_still_running(
    workers, share_settings, trained_avatar, private_media
):
    schedule_the_sweep()
    template = StyleTemplateFactory(steps=RENDER_STEPS)
    with transaction.atomic():
        job_ids = [services.render_job_create(avatar=trained_avatar, template=template, kind=RenderJob.Kind.EXTRA).pk
                   for _ in range(JOBS)]
    workers.start(["default", "gpu-a", "gpu-b"])
    running = RenderJob.objects.filter(pk__in=job_ids, status="running", stage="rendering", progress__gt=5)
    wait_until(lambda: running.count() >= 2, timeout=JOB_TIMEOUT, interval=0.05, message="both workers mid-render")
    mid_job = set(running.values_list("pk", flat=True))

    workers.kill("gpu-a")

    wait_until(lambda: RenderJob.objects.filter(pk__in=job_ids, status="succeeded").count() == JOBS
               or RenderJob.objects.filter(pk__in=job_ids, status="failed").exists(),
               timeout=2 * JOB_TIMEOUT, interval=0.5, message=f"{JOBS} render jobs to end")
    attempts = dict(RenderJob.objects.filter(pk__in=job_ids).values_list("pk", "attempts"))
    assert set(RenderJob.objects.filter(pk__in=job_ids).values_list("status", flat=True)) == {"succeeded"}
    # The killed worker's job, and only it, was taken over once, by the worker still running.
    (killed,) = [pk for pk, count in attempts.items() if count == 2]
    assert killed in mid_job
    assert sorted(attempts.values()) == [1] * (JOBS - 1) + [2]
    per_job = Portrait.objects.filter(render_job__in=job_ids).values("render_job").annotate(n=Count("pk"))
    assert sorted(row["n"] for row in per_job) == [1] * JOBS
    # Nothing waits for a worker; what is left is what the killed cluster had pulled (its job's
    # task and those its pusher fetched ahead), locked until the broker's retry: nobody's turn.
    assert not OrmQ.objects.filter(key="gpu", lock__lte=timezone.now()).exists()
    # The worker that was not killed did the rest, the killed job's second attempt included.
    assert len(workers.task_names("gpu-b")) >= JOBS - 1
