"""Two gpu qcluster processes against one PostgreSQL share a burst of jobs: each job is done exactly once."""

import pytest
from django.db import transaction
from django.db.models import Count
from django_q.models import OrmQ, Task

from avatars import services
from avatars.models import Portrait, RenderJob
from tests.workers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

JOBS = 50
BURST_TIMEOUT = 600


def test_two_gpu_workers_take_fifty_queued_jobs_and_do_each_exactly_once(
    workers, share_settings, trained_avatar, private_media
):
    template = trained_avatar.templates.get()
    workers.start(["gpu-a", "gpu-b"])
    with transaction.atomic():
        jobs = [services.render_job_create(avatar=trained_avatar, template=template, kind=RenderJob.Kind.EXTRA)
                for _ in range(JOBS)]
    job_ids = [job.pk for job in jobs]

    wait_until(lambda: RenderJob.objects.filter(pk__in=job_ids, status="succeeded").count() == JOBS
               or RenderJob.objects.filter(pk__in=job_ids, status="failed").exists(),
               timeout=BURST_TIMEOUT, interval=0.5, message=f"{JOBS} render jobs to end")

    jobs = list(RenderJob.objects.filter(pk__in=job_ids))
    assert {(job.status, job.attempts) for job in jobs} == {("succeeded", 1)}, [j.error for j in jobs if j.error]
    per_job = Portrait.objects.filter(render_job__in=job_ids).values("render_job").annotate(n=Count("pk"))
    assert sorted(row["n"] for row in per_job) == [1] * JOBS
    portraits = Portrait.objects.filter(avatar=trained_avatar)
    stored = {str(p.relative_to(private_media)) for p in (private_media / "portraits").rglob("*") if p.is_file()}
    # Each portrait's full-size file and web copy, nothing else.
    assert stored == {name for portrait in portraits for name in portrait.stored_file_names}
    assert len(portraits) == JOBS + 1

    # One delivery per job: one task each, run once, acknowledged (nothing left in the queue).
    tasks = {task.id: task for task in Task.objects.filter(id__in=[job.task_id for job in jobs])}
    assert len(tasks) == JOBS
    assert {(task.success, task.attempt_count) for task in tasks.values()} == {(True, 1)}
    assert not OrmQ.objects.exists()
    # Both processes worked, and no task was started by both.
    took_a, took_b = workers.task_names("gpu-a"), workers.task_names("gpu-b")
    assert took_a and took_b
    assert sorted(took_a + took_b) == sorted(task.name for task in tasks.values())
