"""The fair GPU queue played forward in time: when each waiting job will start.

Plain Python over plain values (no database), so a queue can be played by hand in a test. The
workers take jobs as avatars.gpu.scheduling.fair_order orders them, one pick at a time: the
first class still waiting, in it the person served longest ago, their oldest job. Played
forward, the picks also meet the work that known jobs make as they finish: each training queues
its avatar's first portraits, which go before every re-roll, and before the second first
portrait of anyone already served one. A static list of the jobs waiting now misses that work.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass

# Before any rank _last_served gives (negative numbers), and those before any pick played here.
NEVER_SERVED_KEY = (-1,)
# A queue played this many picks without reaching every waiting job has no wait worth telling.
MOST_PICKS = 100_000


@dataclass(frozen=True)
class PlayedJob:
    key: tuple[str, int] | None  # (table, id) of a job waiting now; None for one a training will queue
    user_id: int
    queue_class: int
    queued: float  # seconds from now (negative: queued before now)
    order_id: int  # the job's id, which breaks ties between jobs queued at one moment
    seconds: float | None  # how long it takes; None: no basis
    first_portraits: int = 0  # the jobs it queues as it finishes (a training's first portraits)
    first_portrait_seconds: float | None = None  # how long each of those takes


@dataclass(frozen=True)
class PlayedStart:
    start_seconds: float | None  # None: no basis (a job ahead of it has none)
    # Its person had a job of its class taken before it in the play (or running now): work of
    # its own class that arrives meanwhile goes before it.
    returning: bool


@dataclass(frozen=True)
class FirstPortraits:
    at: float  # seconds from now
    user_id: int
    count: int
    seconds: float | None


class _FairQueue:
    """The waiting jobs of every class, picked as fair_order picks them."""

    def __init__(self, last_served: dict[int, tuple]):
        self.last_served = last_served
        self.jobs: dict[tuple[int, int], deque[PlayedJob]] = {}  # (class, person): oldest first
        self.heads: dict[int, list] = {}  # class: heap of (last served, head's age, head's id, person)
        self.picks = itertools.count()

    def add(self, job: PlayedJob) -> None:
        waiting = self.jobs.setdefault((job.queue_class, job.user_id), deque())
        waiting.append(job)
        if len(waiting) == 1:
            self._push_head(job.queue_class, job.user_id)

    def _push_head(self, queue_class: int, user_id: int) -> None:
        head = self.jobs[(queue_class, user_id)][0]
        served = self.last_served.get(user_id, NEVER_SERVED_KEY)
        heapq.heappush(self.heads.setdefault(queue_class, []), (served, head.queued, head.order_id, user_id))

    def pick(self, at: float) -> PlayedJob | None:
        for queue_class in sorted(self.heads):
            heads = self.heads[queue_class]
            while heads:
                served, _, _, user_id = heapq.heappop(heads)
                if served != self.last_served.get(user_id, NEVER_SERVED_KEY):
                    # Served since, in another class: back in line where that puts them.
                    self._push_head(queue_class, user_id)
                    continue
                waiting = self.jobs[(queue_class, user_id)]
                job = waiting.popleft()
                self.last_served[user_id] = (1, at, next(self.picks))
                if waiting:
                    self._push_head(queue_class, user_id)
                else:
                    del self.jobs[(queue_class, user_id)]
                return job
        return None


def fair_queue_played_forward(
    *, free_at: list[float], waiting: list[PlayedJob], last_served: dict[int, float],
    first_portraits: list[FirstPortraits], pickup: float, running_classes: set[tuple[int, int]] = frozenset(),
) -> dict[tuple[str, int], PlayedStart]:
    """When each job in `waiting` starts, in seconds from now: the workers (free at `free_at`)
    take the jobs in the fair order, each busy for the job's seconds and the pick-up after it;
    `first_portraits` are queued at their moment (running trainings'), and every training
    played queues its own as it finishes. `last_served`: _last_served's ranks; a person in
    `running_classes` (class, person) has a job of that class running now."""
    queue = _FairQueue({user: (0, rank) for user, rank in last_served.items()})
    for job in waiting:
        queue.add(job)
    arrivals = [(made.at, index, made) for index, made in enumerate(first_portraits)]
    heapq.heapify(arrivals)
    made_ids = itertools.count(10**15)
    free = list(free_at)
    heapq.heapify(free)
    picked_in_class = set(running_classes)
    starts: dict[tuple[str, int], PlayedStart] = {}
    left = sum(1 for job in waiting if job.key is not None)
    known = True
    for _ in range(MOST_PICKS):
        if not left or not free:
            break
        now = heapq.heappop(free)
        while arrivals and arrivals[0][0] <= now:
            made = heapq.heappop(arrivals)[2]
            for _ in range(made.count):
                queue.add(PlayedJob(None, made.user_id, 1, made.at, next(made_ids), made.seconds))
        job = queue.pick(now)
        if job is None:
            if not arrivals:
                break
            # Idle until the next training finishes, then the pick-up.
            heapq.heappush(free, arrivals[0][0] + pickup)
            continue
        returning = (job.queue_class, job.user_id) in picked_in_class
        picked_in_class.add((job.queue_class, job.user_id))
        if job.key is not None:
            starts[job.key] = PlayedStart(now if known else None, returning)
            left -= 1
        if job.seconds is None:
            known = False
            heapq.heappush(free, now)
            continue
        heapq.heappush(free, now + job.seconds + pickup)
        if job.first_portraits:
            heapq.heappush(arrivals, (now + job.seconds, next(made_ids), FirstPortraits(
                now + job.seconds, job.user_id, job.first_portraits, job.first_portrait_seconds)))
    return starts
