"""What the live progress page and its polling show: jobs, queue positions, in few queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from avatars.models import Avatar, RenderJob, TrainingJob
from avatars.selectors import avatar_progress
from tests.factories import AvatarFactory, StyleTemplateFactory

pytestmark = pytest.mark.django_db

START = timezone.now() - timedelta(hours=1)


def queued(avatar, minute: int, *, status: str = "queued", model=RenderJob):
    fields = {"template": StyleTemplateFactory()} if model is RenderJob else {}
    job = model.objects.create(avatar=avatar, status=status, **fields)
    model.objects.filter(pk=job.pk).update(queued_at=START + timedelta(minutes=minute))
    return job


def test_queue_positions_count_everyones_running_jobs_and_the_waiting_ones_the_workers_take_first():
    mine = AvatarFactory(status=Avatar.Status.READY)
    others = AvatarFactory.create_batch(2, status=Avatar.Status.READY)
    queued(others[0], 0, model=TrainingJob, status="running")
    queued(others[0], 1)
    queued(others[1], 2, status="succeeded")  # finished work is not in the queue any more
    queued(mine, 3, status="running")
    queued(mine, 4)
    queued(others[1], 5)
    queued(mine, 6)
    queued(mine, 7)

    jobs = avatar_progress(avatar=mine)["jobs"]

    assert [(job["status"], job["queue_position"]) for job in jobs] == [
        ("running", None), ("queued", 3), ("queued", 5), ("queued", 6),
    ]


@pytest.mark.parametrize("waiting", [1, 6])
def test_progress_takes_the_same_queries_however_many_jobs_wait(django_assert_num_queries, waiting):
    avatar = AvatarFactory(status=Avatar.Status.READY)
    queued(avatar, 0, model=TrainingJob, status="running")
    for minute in range(1, waiting + 1):
        queued(avatar, minute)

    avatar_progress(avatar=avatar)  # the typical job durations are now cached
    # training, renders, running jobs (2 tables), waiting jobs (2), when their people were last
    # served (2), portraits
    with django_assert_num_queries(9):
        progress = avatar_progress(avatar=avatar)

    assert [job["queue_position"] for job in progress["jobs"][1:]] == list(range(1, waiting + 1))
