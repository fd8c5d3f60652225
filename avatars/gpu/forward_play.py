"""The fair GPU queue played forward in time: when each waiting job will start.

Plain values, no queries, so a queue can be played by hand in a test. The workers take jobs as
avatars.gpu.scheduling.fair_order orders them, one pick at a time: the first class still
waiting, in it the person served longest ago, their oldest job. Played forward, the picks also
meet the work that comes while a job waits: the first portraits each training queues as it
finishes (before every re-roll, and before the second first portrait of anyone served one
already), and new trainings and re-rolls at the pace they came lately, a newcomer's re-roll
before a person's second. A static list of the jobs waiting now misses all of that; a queue
stretched by the share of the GPUs such work takes (the textbook's 1 / (1 - share)) treats the
GPUs as one pooled machine, when a new training takes one worker and leaves the others to the
jobs behind it (in bench/launch.py that stretch told waits three times too long).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass

from avatars.gpu.scheduling import QUEUE_CLASS_FIRST_PORTRAITS, QUEUE_CLASS_TRAINING

# Before any rank _last_served gives (negative numbers), and those before any pick played here.
NEVER_SERVED_KEY = (-1,)
# A job not reached within this many picks beyond those waiting now (the work arriving keeps
# every GPU busy before it) has no wait worth telling.
MOST_PICKS = 2000


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
class ArrivalStream:
    """New work of one kind arriving at the pace it came lately, one job every `every_seconds`,
    each from a person not in the queue yet."""

    queue_class: int
    every_seconds: float
    seconds: float | None
    first_portraits: int = 0
    first_portrait_seconds: float | None = None


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
    first_portraits: list[FirstPortraits], pickup: float, streams: list[ArrivalStream] = (),
) -> dict[tuple[str, int], float | None]:
    """When each job in `waiting` starts, in seconds from now (None: no basis, a job taken before
    it has none): the workers (free at `free_at`) take the jobs in the fair order, each busy for
    the job's seconds and the pick-up after it. `first_portraits` are queued at their moment
    (running trainings'), every training played queues its own as it finishes, and `streams`
    bring new work at their pace. `last_served`: _last_served's ranks."""
    queue = _FairQueue({user: (0, rank) for user, rank in last_served.items()})
    for job in waiting:
        queue.add(job)
    ids = itertools.count(10**15)
    newcomers = itertools.count(-1, -1)  # people who are not here yet
    events = [(made.at, next(ids), made) for made in first_portraits]
    # The k-th arrival of a stream k gaps from now. Played at their mean moments (k - 1/2 gaps)
    # the arrivals told most waits too long: work that comes at random most often brings less
    # than its average into a short wait. Random arrivals played against the same queue (an
    # offline Monte Carlo of bench/launch.py's first portraits) put the median error near 0
    # at k gaps, +30% to +200% at k - 1/2.
    events += [(stream.every_seconds, next(ids), stream) for stream in streams if stream.every_seconds > 0]
    heapq.heapify(events)
    free = list(free_at)
    heapq.heapify(free)
    starts: dict[tuple[str, int], float | None] = {}
    left = sum(1 for job in waiting if job.key is not None)
    known = True
    for _ in range(MOST_PICKS + 5 * len(waiting)):
        if not left or not free:
            break
        now = heapq.heappop(free)
        while events and events[0][0] <= now:
            at, _, event = heapq.heappop(events)
            if isinstance(event, FirstPortraits):
                for _ in range(event.count):
                    queue.add(PlayedJob(None, event.user_id, QUEUE_CLASS_FIRST_PORTRAITS, at, next(ids), event.seconds))
            else:
                person = next(newcomers)
                if event.queue_class != QUEUE_CLASS_TRAINING:
                    # Someone whose first portraits came lately asks for more: served just now.
                    queue.last_served[person] = (1, at, next(queue.picks))
                queue.add(PlayedJob(None, person, event.queue_class, at, next(ids), event.seconds,
                                    event.first_portraits, event.first_portrait_seconds))
                heapq.heappush(events, (at + event.every_seconds, next(ids), event))
        job = queue.pick(now)
        if job is None:
            if not events:
                break
            # Idle until the next job comes, then the pick-up.
            heapq.heappush(free, events[0][0] + pickup)
            continue
        if job.key is not None:
            starts[job.key] = now if known else None
            left -= 1
        if job.seconds is None:
            known = False
            heapq.heappush(free, now)
            continue
        heapq.heappush(free, now + job.seconds + pickup)
        if job.first_portraits:
            heapq.heappush(events, (now + job.seconds, next(ids), FirstPortraits(
                now + job.seconds, job.user_id, job.first_portraits, job.first_portrait_seconds)))
    return starts
