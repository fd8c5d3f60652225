"""PostgreSQL restarted under a running gpu worker: the same worker processes carry on afterwards.

The restart ends every connection to the server, this test process's own included, and
any other test using the same server at that moment (CI runs the suite alone).
"""

import re
import subprocess

import pytest
from django.db import connection

from avatars import services
from avatars.gpu.jobs import jobs_requeue_stale
from avatars.models import RenderJob
from tests.factories import StyleTemplateFactory
from tests.workers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

JOB_TIMEOUT = 240
# Long enough to be caught mid-render on a fast idle machine (progress is written once a second).
SLOW_RENDER_STEPS = 150
STALE_SECONDS = 10


def local_cluster() -> tuple[str, str]:
    """The version and name of the local PostgreSQL cluster that serves the test database."""
    port = str(connection.settings_dict.get("PORT") or 5432)
    host = connection.settings_dict.get("HOST") or "localhost"
    try:
        listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("pg_lsclusters is missing: PostgreSQL is not a local cluster this test can restart")
    for line in listing.stdout.splitlines():
        version, name, cluster_port, status = line.split()[:4]
        if cluster_port == port and status == "online" and host in ("127.0.0.1", "localhost", "::1"):
            return version, name
    pytest.skip(f"No local PostgreSQL cluster serves {host}:{port}")


def restart_postgresql() -> None:
    version, name = local_cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "--mode", "fast", version, name, "restart"],
                   check=True, timeout=120, capture_output=True)
    # Our own connection died with the server; the next query opens a new one.
    connection.close()


def render(avatar, template) -> RenderJob:
    [job] = services.avatar_render_more(avatar=avatar, templates=[template])
    return job


def wait_done(job: RenderJob) -> RenderJob:
    return wait_until(lambda: RenderJob.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
                      timeout=JOB_TIMEOUT, message=f"render job {job.pk} to end")


def test_the_same_workers_carry_on_after_postgresql_restarts_idle_and_mid_job(workers, share_settings, trained_avatar):
    share_settings(LIKENESS_HEARTBEAT_STALE_SECONDS=STALE_SECONDS)
    template = trained_avatar.templates.get()
    workers.start(["gpu"])
    first = wait_done(render(trained_avatar, template))
    assert (first.status, first.attempts) == ("succeeded", 1), first.error

    # Idle: the pusher is polling the queue table when the server goes away.
    restart_postgresql()
    after_idle = wait_done(render(trained_avatar, template))
    assert (after_idle.status, after_idle.attempts) == ("succeeded", 1), after_idle.error

    # Mid-job: the worker loses its connection between two heartbeats.
    slow = render(trained_avatar, StyleTemplateFactory(steps=SLOW_RENDER_STEPS))
    wait_until(lambda: RenderJob.objects.filter(pk=slow.pk, stage="rendering", progress__gt=5).exists(),
               timeout=JOB_TIMEOUT, interval=0.05, message="the slow render to be under way")
    restart_postgresql()
    # The worker cannot record the lost attempt while the server is down: the sweep requeues it once
    # its heartbeat is stale (a limit well above a live job's quiet spells on a busy machine).
    wait_until(lambda: RenderJob.objects.filter(pk=slow.pk).exclude(status="running").exists()
               or jobs_requeue_stale(), timeout=JOB_TIMEOUT, message="the interrupted attempt to end")
    slow = wait_done(slow)
    assert (slow.status, slow.attempts) == ("succeeded", 2), slow.error
    after_job = wait_done(render(trained_avatar, template))
    assert (after_job.status, after_job.attempts) == ("succeeded", 1), after_job.error

    # The very same cluster and worker process did all of it. Only django-q2's pusher may have been
    # replaced: it exits when the broker fails and the sentinel starts a new one, by design.
    assert workers.processes["gpu"].poll() is None
    log = workers.log_path("gpu").read_text()
    [worker_pid] = re.findall(r"ready for work at (\d+)", log)
    assert int(worker_pid) in workers.pids("gpu")
    assert len(workers.task_names("gpu")) == 5
    assert trained_avatar.portraits.count() == 1 + 4
