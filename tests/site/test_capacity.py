"""The dashboard's capacity figures: from the last hour's arrivals and durations, the wait with the
GPUs working now, and the fewest GPUs that keep it under the operator's target."""

import math
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from avatars.models import TrainingJob
from portrait_site.operations.capacity import capacity_figures, erlang_c_wait_seconds
from tests.factories import TrainingJobFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_erlang_c_against_its_worked_figures():
    # One job a minute, a minute each: one GPU never catches up, two wait 20 s, three 2.7 s.
    per_second = 1 / 60
    assert erlang_c_wait_seconds(arrivals_per_second=per_second, mean_seconds=60, servers=1) == math.inf
    assert erlang_c_wait_seconds(arrivals_per_second=per_second, mean_seconds=60, servers=2) == pytest.approx(20)
    assert erlang_c_wait_seconds(arrivals_per_second=per_second, mean_seconds=60, servers=3) == pytest.approx(30 / 11)


def arrivals(count: int, *, seconds: float, running_now: int = 0):
    """`count` trainings queued over the last hour, each done in `seconds`; the last
    `running_now` of them running now, on as many workers."""
    now = timezone.now()
    for index in range(count):
        queued = now - timedelta(minutes=59) + timedelta(seconds=index * 3540 / count)
        running = index >= count - running_now
        if running:  # arrived just now, taken at once by a free GPU
            queued = now - timedelta(seconds=5)
        started = queued
        job = TrainingJobFactory(status="running" if running else "succeeded")
        TrainingJob.objects.filter(pk=job.pk).update(
            queued_at=queued, started_at=started, heartbeat_at=now,
            finished_at=None if running else started + timedelta(seconds=seconds),
        )


def test_the_capacity_figure_from_known_arrivals():
    arrivals(60, seconds=60, running_now=2)  # one a minute, a minute each, two GPUs busy now

    figures = capacity_figures(target_wait_seconds=30)

    assert figures.arrivals_per_hour == {"training": 60}
    assert figures.mean_seconds["training"] == pytest.approx(60)
    assert figures.offered_load == pytest.approx(1.0)
    assert figures.workers_alive == 2 and figures.keeps_up
    # Two running jobs with 55 s left each (less the seconds this test took to get here): 110
    # GPU-seconds shared by two, plus Erlang's 20 s.
    assert figures.backlog_seconds == pytest.approx(110, abs=15)
    assert figures.wait_seconds == pytest.approx(figures.backlog_seconds / 2 + 20, abs=0.5)
    # Three GPUs: 110 / 3 + 2.7 = 39.4 s; four: 27.5 + 0.4 = 27.9 s, under 30.
    assert figures.gpus_for_target == 4
    assert capacity_figures(target_wait_seconds=600).gpus_for_target == 2


def test_with_no_job_ever_finished_there_is_no_basis_for_a_figure():
    TrainingJobFactory(status="queued")

    figures = capacity_figures(target_wait_seconds=600)

    assert figures.wait_seconds is None and figures.gpus_for_target is None


def test_the_dashboard_shows_the_capacity_for_the_target_the_operator_types(client):
    arrivals(60, seconds=60, running_now=2)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(reverse("admin-dashboard"), {"target_wait_minutes": "0.5"}).content.decode()
    assert 'name="target_wait_minutes"' in page and 'value="0.5"' in page
    assert "4 GPUs" in page

    refused = client.get(reverse("admin-dashboard"), {"target_wait_minutes": "-3"})
    assert refused.status_code == 200 and "errorlist" in refused.content.decode()
