"""The fair GPU queue: the order in which the workers take waiting jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Max,
)

from avatars.models import JOB_MODELS, GpuJob, RenderJob, TrainingJob

# Work that makes a person's avatar comes before work that adds to one they have.
QUEUE_CLASS_TRAINING, QUEUE_CLASS_FIRST_PORTRAITS, QUEUE_CLASS_MORE = 0, 1, 2


@dataclass(frozen=True)
class QueuedJob:
    model: type
    job_id: int
    user_id: int
    queue_class: int
    queued_at: datetime


def gpu_queue_order() -> list[QueuedJob]:
    """Every waiting GPU job in the order the workers take them.

    Training first, then first portraits, then everything else; within each, people take
    turns: the person served least recently goes next, with their oldest job. So one
    person's re-rolls never hold another person's training or first portraits back by more
    than the job already running, and two people re-rolling alternate.
    """
    waiting, last_served = gpu_queue_waiting()
    return fair_order(waiting, last_served=last_served)


def gpu_queue_waiting(*, also_people: frozenset[int] = frozenset()) -> tuple[list[QueuedJob], dict[int, float]]:
    """Every waiting GPU job, in no order, and when each of their people (and `also_people`) was
    last served (_last_served's ranks): what fair_order orders."""
    waiting = [
        QueuedJob(TrainingJob, pk, user_id, QUEUE_CLASS_TRAINING, queued_at)
        for pk, user_id, queued_at in TrainingJob.objects.filter(status=GpuJob.Status.QUEUED).values_list(
            "pk", "avatar__user_id", "queued_at"
        )
    ] + [
        QueuedJob(
            RenderJob, pk, user_id,
            QUEUE_CLASS_FIRST_PORTRAITS if kind == RenderJob.Kind.INITIAL else QUEUE_CLASS_MORE, queued_at,
        )
        for pk, user_id, kind, queued_at in RenderJob.objects.filter(status=GpuJob.Status.QUEUED).values_list(
            "pk", "avatar__user_id", "kind", "queued_at"
        )
    ]
    people = {job.user_id for job in waiting} | also_people
    return waiting, _last_served(people) if people else {}


def fair_order(waiting: list[QueuedJob], *, last_served: dict[int, float]) -> list[QueuedJob]:
    """`waiting` in the order gpu_queue_order describes, given when each person was last served
    (_last_served's ranks; a person missing was never served).

    Picking one job at a time (the first class still waiting, the person served longest ago,
    their oldest job) is a round robin within each class: a person just served goes behind
    everyone waiting in that class. So within a class a person's k-th oldest job goes in round
    k, and each round takes people in one order: by when they were last served, then by their
    oldest job's age. One sort per class instead of a scan of the queue per pick: the order is
    the same (tests/avatars/test_fair_queue.py plays both on random queues).
    """
    by_class: dict[int, dict[int, list[QueuedJob]]] = {}
    for job in sorted(waiting, key=lambda job: (job.queue_class, job.queued_at, job.job_id)):
        by_class.setdefault(job.queue_class, {}).setdefault(job.user_id, []).append(job)
    last_served = dict(last_served)
    order: list[QueuedJob] = []
    for queue_class in sorted(by_class):
        people = by_class[queue_class]
        first_round = sorted(people, key=lambda user: (
            last_served.get(user, NEVER_SERVED), people[user][0].queued_at, people[user][0].job_id))
        place = {user: index for index, user in enumerate(first_round)}
        rounds = sorted(
            ((turn, place[user], job) for user, jobs in people.items() for turn, job in enumerate(jobs)),
            key=lambda entry: entry[:2],
        )
        order += [job for _, _, job in rounds]
        # Served now: each person's last pick in this class is their latest turn of all.
        for turn, job in enumerate(order[-len(rounds):], start=len(order) - len(rounds) + 1):
            last_served[job.user_id] = turn
    return order


NEVER_SERVED = float("-inf")


def _last_served(user_ids: set[int]) -> dict[int, float]:
    """For each person served before, a rank of when a GPU job of theirs last started: lower is
    longer ago, and all of them below the picks gpu_queue_order counts up from 1."""
    started: dict[int, datetime] = {}
    for model in JOB_MODELS.values():
        rows = (
            model.objects.filter(avatar__user_id__in=user_ids, started_at__isnull=False)
            .values("avatar__user_id")
            .annotate(last=Max("started_at"))
            .values_list("avatar__user_id", "last")
        )
        for user_id, last in rows:
            started[user_id] = max(last, started.get(user_id, last))
    by_time = sorted(started, key=started.get)
    return {user_id: rank - len(by_time) for rank, user_id in enumerate(by_time)}
