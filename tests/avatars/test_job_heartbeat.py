"""The heartbeat beats from a thread of its own, and the sweep looks every few seconds: a dead
worker's job is taken over soon, a live one in a slow step never (avatars.gpu.jobs)."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from avatars import tasks
from avatars.gpu import jobs
from avatars.models import RenderJob
from tests.factories import RenderJobFactory

# Threads write the heartbeat: they must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quick_beats(settings):
    settings.LIKENESS_RUN_JOBS_INLINE = True
    settings.LIKENESS_HEARTBEAT_SECONDS = 0.1
    settings.LIKENESS_HEARTBEAT_STALE_SECONDS = 0.6
    settings.LIKENESS_STALE_SWEEP_SECONDS = 0.1


def test_a_live_job_in_one_slow_step_is_never_taken_over(quick_beats, settings):
    job = RenderJobFactory(status="queued")
    sweeps = []

    def one_slow_step(job, report, started):
        # Four stale limits in one step, with no progress reported: only the heartbeat speaks.
        deadline = time.monotonic() + 4 * settings.LIKENESS_HEARTBEAT_STALE_SECONDS
        while time.monotonic() < deadline:
            sweeps.append(jobs.jobs_requeue_stale())
            time.sleep(0.05)
        with transaction.atomic():
            jobs.job_mark_succeeded(jobs.job_lock_own_attempt(job), started=started)

    jobs.job_run(RenderJob, job.pk, one_slow_step)

    assert sweeps and set(sweeps) == {0}
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 1)


def test_the_heartbeat_stops_once_the_attempt_no_longer_owns_the_job(quick_beats):
    job = RenderJobFactory(status="queued")
    beats_after_takeover = []

    def taken_over_meanwhile(job, report, started):
        RenderJob.objects.filter(pk=job.pk).update(status="queued", heartbeat_at=None)
        time.sleep(0.5)
        beats_after_takeover.append(RenderJob.objects.get(pk=job.pk).heartbeat_at)

    jobs.job_run(RenderJob, job.pk, taken_over_meanwhile)

    assert beats_after_takeover == [None]


def test_the_scheduled_sweep_keeps_looking_every_few_seconds(quick_beats, settings, monkeypatch):
    """A job that goes quiet after the sweep started is requeued by the same scheduled run."""
    monkeypatch.setattr(jobs, "SWEEP_LOOP_SECONDS", 2.0)
    settings.LIKENESS_RUN_JOBS_INLINE = False
    fresh_for = timedelta(seconds=0.5)
    job = RenderJobFactory(
        status="running", attempts=1,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS) + fresh_for,
    )

    swept = tasks.jobs_requeue_stale()

    job.refresh_from_db()
    assert swept >= 1
    assert (job.status, job.stage) == ("queued", "requeued")
