"""Several GPU workers on one PostgreSQL share a queue; one is SIGKILLed mid-job. The others
keep working, the killed worker's job runs again on one of them, and every job is done once.

The workers run the real django-q2 `gpu` cluster and the real job lifecycle with the bench's
stand-in engine (bench/launch_standin_worker.py, started as a program): a render sleeps
instead of using the CPU, so three workers keep their pace on two busy cores, and each logs
the attempt it starts, so the test knows which job the killed worker had. Every wait is for an
event, with deadlines far beyond what the work takes.
"""

import re

import pytest
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django_q.models import OrmQ

from avatars import services
from avatars.gpu.jobs import jobs_requeue_lost, jobs_requeue_stale
from avatars.models import Avatar, Portrait, RenderJob
from tests.factories import AvatarFactory, StyleTemplateFactory
from tests.workers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS = ("gpu-a", "gpu-b", "gpu-c")
JOBS = 6
STANDIN = ["bench/launch_standin_worker.py"]
# Each render sleeps this long: the kill lands 1 to 4 s into one (progress 3 to 50, written
# once a second), far from its end even when the test process is slow to look.
RENDER_SECONDS = 8
DEADLINE = 300
ATTEMPT_LINE = re.compile(r"stand-in: RenderJob (\d+) attempt (\d+)")


def attempts_started(workers, name: str) -> list[tuple[int, int]]:
    """(job, attempt) for each attempt the worker's log says it started, in order."""
    return [(int(job), int(attempt)) for job, attempt in ATTEMPT_LINE.findall(workers.log_path(name).read_text())]


def test_a_killed_workers_job_is_done_once_by_the_workers_still_running(workers, share_settings, private_media):
    # The lost-turn sweep may hand out a turn once a job has waited a second.
    share_settings(LIKENESS_QUEUED_TASK_GRACE_SECONDS=1)
    avatar = AvatarFactory(status=Avatar.Status.READY)
    template = StyleTemplateFactory(is_published=True)
    workers.start(WORKERS, env={"LAUNCH_RENDER_SECONDS": RENDER_SECONDS, "LAUNCH_DURATION_SPREAD": 0},
                  program=STANDIN)
    with transaction.atomic():
        job_ids = [services.render_job_create(avatar=avatar, template=template, kind=RenderJob.Kind.EXTRA).pk
                   for _ in range(JOBS)]

    def a_worker_early_in_a_render():
        # Whichever worker it is: the broker hands tasks to whichever pusher asks first.
        for name in WORKERS:
            started = attempts_started(workers, name)
            if started and RenderJob.objects.filter(
                pk=started[-1][0], status="running", attempts=1, progress__range=(3, 50)
            ).exists():
                return name, started[-1][0]
        return None

    victim, killed_job = wait_until(a_worker_early_in_a_render, timeout=DEADLINE, interval=0.05,
                                    message="a worker to be early in a render")
    workers.kill(victim)
    frozen = RenderJob.objects.get(pk=killed_job)
    assert (frozen.status, frozen.attempts) == ("running", 1), f"{victim} was killed mid-job"

    def every_job_ended():
        # The sweeps the default cluster runs every few seconds (tests/reliability/
        # test_worker_killed.py checks that schedule), run here: the stale job requeued once
        # its heartbeat goes quiet, a turn for each job whose task the dead cluster had pulled.
        jobs_requeue_stale()
        jobs_requeue_lost()
        ended = RenderJob.objects.filter(pk__in=job_ids, status__in=["succeeded", "failed"]).count()
        return ended == JOBS

    wait_until(every_job_ended, timeout=DEADLINE, interval=0.5, message=f"{JOBS} render jobs to end")

    jobs = {job.pk: job for job in RenderJob.objects.filter(pk__in=job_ids)}
    assert {job.status for job in jobs.values()} == {"succeeded"}, [job.error for job in jobs.values()]
    # The killed job, and only it, ran a second time; every attempt started exactly once.
    assert {pk: job.attempts for pk, job in jobs.items()} == {pk: 2 if pk == killed_job else 1 for pk in job_ids}
    survivors = [attempt for name in WORKERS if name != victim for attempt in attempts_started(workers, name)]
    started = sorted(attempts_started(workers, victim) + survivors)
    assert started == sorted([(pk, 1) for pk in job_ids] + [(killed_job, 2)])
    assert (killed_job, 2) in survivors
    # Done once: one portrait per job, the killed attempt's included in none.
    per_job = Portrait.objects.filter(render_job__in=job_ids).values("render_job").annotate(n=Count("pk"))
    assert {row["render_job"]: row["n"] for row in per_job} == dict.fromkeys(job_ids, 1)
    # No turn waits for a worker; what is left is what the killed cluster pulled, locked until
    # the broker's retry, and nobody's turn.
    assert not OrmQ.objects.filter(key="gpu", lock__lte=timezone.now()).exists()
