"""How long a waiting GPU job will wait: told from what is known, or not told at all.

A wait is the fair queue played forward (avatars.gpu.forward_play): the jobs there now, taken
in the order the workers take them by whichever of the GPU workers alive frees up first, each
taking as long as its kind of job (training, first portraits, re-rolls, "more like me", more
styles) took lately, plus the worker's pick-up time between two jobs; the first portraits each
training queues as it finishes join the play when it does. Work still to come that will go
before a job (trainings before first portraits, both before re-rolls, a newcomer's re-roll before
a person's second) joins the play at the pace it came lately. When one of those is unknown (no
worker seen lately, a kind never run yet) or the work still to come keeps every GPU busy
before a job, there is no wait to tell: the page says how many jobs are ahead instead.

Every waiting customer's open tab polls every two seconds, so the whole queue is played forward
once, kept in the cache for QUEUE_SNAPSHOT_SECONDS and read by every poll in one round trip.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.utils import timezone

from avatars.gpu.forward_play import ArrivalStream, FirstPortraits, PlayedJob, fair_queue_played_forward
from avatars.gpu.scheduling import (
    QUEUE_CLASS_FIRST_PORTRAITS,
    QUEUE_CLASS_MORE,
    QUEUE_CLASS_TRAINING,
    fair_order,
    gpu_queue_waiting,
)
from avatars.models import JOB_MODELS, Avatar, GpuJob, RenderJob, TrainingJob

QUEUE_SNAPSHOT_SECONDS = 2
QUEUE_SNAPSHOT_KEY = "gpu-queue-estimates"
TRAINING_KIND = "training"
# The recent finished jobs of a kind whose median is its typical duration: enough to ride out
# one odd job, few enough to follow a change of GPUs or of settings within minutes.
RECENT_JOBS_PER_KIND = 20
# GPU workers alive: the most jobs that ran at the same moment within this window. A worker
# between two jobs is idle for a few milliseconds; one dead for longer than this is not counted.
WORKERS_SEEN_SECONDS = 60


@dataclass(frozen=True)
class JobWait:
    """What a waiting job's owner is told."""

    ahead: int  # GPU jobs running now or taken before it
    start_seconds: float | None  # until a worker takes it, from `measured_at`; None: no basis
    own_seconds: float | None  # how long the job itself should take; None: no basis


@dataclass
class QueueEstimates:
    measured_at: float  # time.time() when the queue was read
    workers_alive: int
    typical_seconds: dict[str, float]  # per job kind, for the kinds with a recent basis
    running: dict[tuple[str, int], float] = field(default_factory=dict)  # job: seconds it has run
    # GPU-seconds of work there now: what the running jobs have left and the waiting jobs take
    # (the jobs of a kind with no basis yet counted as nothing).
    backlog_seconds: float = 0.0
    waits: dict[tuple[str, int], JobWait] = field(default_factory=dict)

    def wait_for(self, table: str, job_id: int) -> JobWait | None:
        """The job's wait as of now: the queue has moved on since it was measured."""
        wait = self.waits.get((table, job_id))
        if wait is None or wait.start_seconds is None:
            return wait
        moved = max(0.0, time.time() - self.measured_at)
        return JobWait(ahead=wait.ahead, start_seconds=max(0.0, wait.start_seconds - moved), own_seconds=wait.own_seconds)

    def remaining_seconds(self, *, kind: str, table: str, job_id: int, progress: int) -> float | None:
        """How long a running job has left: its kind's typical duration less what it has run;
        past that, what its progress says of the time it has taken so far."""
        typical = typical_seconds_for(self.typical_seconds, kind)
        if typical is None:
            return None
        elapsed = self.running.get((table, job_id), 0.0) + max(0.0, time.time() - self.measured_at)
        return _remaining(typical, elapsed, progress)


def _remaining(typical: float, elapsed: float, progress: int) -> float:
    if elapsed < typical:
        return typical - elapsed
    if progress > 2:
        return elapsed * (100 - progress) / progress
    return typical * 0.1


def job_kind(table: str, render_kind: str = "") -> str:
    return TRAINING_KIND if table == "training" else render_kind


def typical_seconds_for(typical: dict[str, float], kind: str) -> float | None:
    """A kind's typical duration; a render kind never run yet takes what renders take."""
    if kind in typical:
        return typical[kind]
    renders = [seconds for name, seconds in typical.items() if name != TRAINING_KIND]
    if kind != TRAINING_KIND and renders:
        return statistics.median(renders)
    return None


def job_kind_typical_seconds() -> dict[str, float]:
    """Per kind of job, the median duration of its recent successful runs."""
    kinds = {TRAINING_KIND: TrainingJob.objects.all()}
    kinds.update({kind: RenderJob.objects.filter(kind=kind) for kind in RenderJob.Kind.values})
    typical = {}
    for kind, jobs in kinds.items():
        recent = list(
            jobs.filter(status=GpuJob.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
            .order_by("-finished_at")
            .values_list("started_at", "finished_at")[:RECENT_JOBS_PER_KIND]
        )
        if recent:
            typical[kind] = statistics.median((finished - started).total_seconds() for started, finished in recent)
    return typical


def _heartbeat_fresh_after(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.LIKENESS_HEARTBEAT_STALE_SECONDS)


def gpu_workers_alive(*, now: datetime | None = None) -> int:
    """How many GPU workers are alive: the most jobs that ran at once in the last
    WORKERS_SEEN_SECONDS, counting running jobs only while their heartbeat is fresh. In a queue
    every live worker is busy, so this counts them all; with none seen, none is counted."""
    now = now or timezone.now()
    since = now - timedelta(seconds=WORKERS_SEEN_SECONDS)
    intervals = []
    for model in JOB_MODELS.values():
        intervals += [
            (max(started, since), finished or now)
            for started, finished in model.objects.filter(started_at__isnull=False).filter(
                Q(status=GpuJob.Status.RUNNING, heartbeat_at__gte=_heartbeat_fresh_after(now))
                | Q(finished_at__gte=since)
            ).values_list("started_at", "finished_at")
        ]
    # A sweep over starts and ends; an end sorts before a start at the same moment.
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


# Pick-up times are read over the last this many finished jobs.
RECENT_PICKUPS = 50


def gpu_pickup_seconds(*, now: datetime | None = None) -> float:
    """How long a worker takes from finishing one job to starting the next while jobs wait: the
    broker's poll and the claim. Nothing beside a training of minutes, but a fair share of a
    render's seconds on a busy machine. The median, over recent finishes that left a job waiting,
    of the time until the next job started; 0 with none seen."""
    now = now or timezone.now()
    since = now - timedelta(seconds=10 * WORKERS_SEEN_SECONDS)
    rows = []
    for model in JOB_MODELS.values():
        rows += model.objects.filter(started_at__gte=since).values_list("queued_at", "started_at", "finished_at")
    finishes = sorted(finished for _, _, finished in rows if finished is not None)[-RECENT_PICKUPS:]
    starts = sorted((started, queued) for queued, started, _ in rows)
    gaps = []
    for finished in finishes:
        # The first job to start after this finish that was already waiting when it came.
        following = next((started for started, queued in starts if started > finished and queued < finished), None)
        if following is not None:
            gaps.append((following - finished).total_seconds())
    return statistics.median(gaps) if gaps else 0.0


# Arrivals are never counted over less than this share of the window: the first few jobs of
# all are no rate yet.
SHORTEST_ARRIVALS_SPAN = 1 / 60
QUEUE_CLASS_OF_KIND = {TRAINING_KIND: QUEUE_CLASS_TRAINING, RenderJob.Kind.INITIAL: QUEUE_CLASS_FIRST_PORTRAITS}


def queue_class_of(kind: str) -> int:
    return QUEUE_CLASS_OF_KIND.get(kind, QUEUE_CLASS_MORE)


def arrivals_span_seconds(*, now: datetime) -> float:
    """The time the window's arrivals came in: the whole window, or since the first job ever
    queued when that is more recent (a site just opened, or a launch: counted over the full
    window, the first minutes' arrivals would read as a trickle)."""
    window = settings.LIKENESS_ARRIVALS_WINDOW_SECONDS
    since = now - timedelta(seconds=window)
    # Most often a job older than the window exists, and the scan stops at the first one.
    if any(model.objects.filter(queued_at__lt=since).exists() for model in JOB_MODELS.values()):
        return float(window)
    firsts = [model.objects.aggregate(first=Min("queued_at"))["first"] for model in JOB_MODELS.values()]
    first = min((at for at in firsts if at is not None), default=None)
    if first is None:
        return float(window)
    return max(SHORTEST_ARRIVALS_SPAN * window, (now - first).total_seconds())


def gpu_arrival_streams(*, typical: dict[str, float], now: datetime | None = None) -> list[ArrivalStream]:
    """The new work that keeps coming, per kind, at the pace it came over the last
    LIKENESS_ARRIVALS_WINDOW_SECONDS: trainings (each queuing as many first portraits as
    trainings did lately) and the work that adds to an avatar (re-rolls, "more like me", more
    styles). First portraits come from the trainings, so they have no stream of their own. A
    kind with no basis for its duration brings none."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.LIKENESS_ARRIVALS_WINDOW_SECONDS)
    span = arrivals_span_seconds(now=now)
    arrivals = {TRAINING_KIND: TrainingJob.objects.filter(queued_at__gte=since).count()}
    arrivals.update(
        RenderJob.objects.filter(queued_at__gte=since).values_list("kind").annotate(n=Count("pk")).order_by()
    )
    first_portraits = arrivals.pop(RenderJob.Kind.INITIAL, 0)
    streams = []
    for kind, count in arrivals.items():
        seconds = typical_seconds_for(typical, kind)
        if count and seconds is not None:
            made = round(first_portraits / count) if kind == TRAINING_KIND else 0
            streams.append(ArrivalStream(queue_class_of(kind), span / count, seconds, made,
                                         typical_seconds_for(typical, RenderJob.Kind.INITIAL) if made else None))
    return streams


def _first_portraits_per_avatar(avatar_ids: set[int]) -> dict[int, int]:
    """How many first portraits each avatar's training will queue as it finishes (worker._train)."""
    through = Avatar.templates.through
    rows = (through.objects.filter(avatar_id__in=avatar_ids, styletemplate__is_published=True)
            .values_list("avatar_id").annotate(n=Count("pk")).order_by())
    return dict(rows)


def gpu_queue_estimates_measured(*, now: datetime | None = None) -> QueueEstimates:
    """Read the queue and play it forward: every waiting job's jobs ahead and wait."""
    now = now or timezone.now()
    typical = job_kind_typical_seconds()
    workers = gpu_workers_alive(now=now)
    pickup = gpu_pickup_seconds(now=now)
    streams = gpu_arrival_streams(typical=typical, now=now)
    estimates = QueueEstimates(measured_at=time.time(), workers_alive=workers, typical_seconds=typical)
    initial_seconds = typical_seconds_for(typical, RenderJob.Kind.INITIAL)
    running = []
    for table, model in JOB_MODELS.items():
        rows = model.objects.filter(status=GpuJob.Status.RUNNING).values_list(
            "pk", "started_at", "progress", "heartbeat_at", "avatar_id", "avatar__user_id",
            *(["kind"] if model is RenderJob else []),
        )
        for pk, started, progress, heartbeat, avatar_id, user_id, *kind in rows:
            elapsed = (now - started).total_seconds() if started else 0.0
            estimates.running[(table, pk)] = elapsed
            alive = heartbeat is not None and heartbeat >= _heartbeat_fresh_after(now)
            running.append((job_kind(table, *kind), elapsed, progress, alive, avatar_id, user_id))
    running_people = frozenset(user_id for *_, user_id in running)
    waiting, last_served = gpu_queue_waiting(also_people=running_people)
    order = fair_order(waiting, last_served=last_served)
    render_kinds = dict(RenderJob.objects.filter(status=GpuJob.Status.QUEUED).values_list("pk", "kind"))
    training_avatars = dict(TrainingJob.objects.filter(status=GpuJob.Status.QUEUED).values_list("pk", "avatar_id"))
    first_portraits = _first_portraits_per_avatar(
        set(training_avatars.values()) | {avatar_id for kind, *_, avatar_id, _ in running if kind == TRAINING_KIND})
    # When each worker is next free, seconds from now: the running jobs' remaining times; an
    # idle worker hears of a job after a pick-up too.
    free_at, known, made_by_running = [], workers > 0, []
    for kind, elapsed, progress, alive, avatar_id, user_id in running:
        seconds = typical_seconds_for(typical, kind)
        if seconds is None:
            known = False
        elif alive:
            left = _remaining(seconds, elapsed, progress)
            free_at.append(left + pickup)
            estimates.backlog_seconds += free_at[-1]
            if kind == TRAINING_KIND and first_portraits.get(avatar_id):
                made_by_running.append(FirstPortraits(left, user_id, first_portraits[avatar_id], initial_seconds))
    free_at = sorted(free_at)[:workers] + [pickup] * max(0, workers - len(free_at))
    played = []
    for queued in waiting:
        table = "training" if queued.model is TrainingJob else "render"
        kind = job_kind(table, render_kinds.get(queued.job_id, RenderJob.Kind.INITIAL))
        own = typical_seconds_for(typical, kind)
        if own is not None:
            estimates.backlog_seconds += own + pickup
        played.append(PlayedJob(
            (table, queued.job_id), queued.user_id, queued.queue_class, (queued.queued_at - now).total_seconds(),
            queued.job_id, own, first_portraits.get(training_avatars.get(queued.job_id), 0) if table == "training" else 0,
            initial_seconds,
        ))
    starts = fair_queue_played_forward(
        free_at=free_at if known else [], waiting=played, last_served=last_served, first_portraits=made_by_running,
        pickup=pickup, streams=streams,
    )
    own_by_key = {job.key: job.seconds for job in played}
    for ahead, queued in enumerate(order, start=len(running)):
        key = ("training" if queued.model is TrainingJob else "render", queued.job_id)
        estimates.waits[key] = JobWait(ahead=ahead, start_seconds=starts.get(key), own_seconds=own_by_key[key])
    return estimates


def gpu_queue_estimates() -> QueueEstimates:
    """The shared estimates, measured at most every QUEUE_SNAPSHOT_SECONDS by one poll."""
    estimates = cache.get(QUEUE_SNAPSHOT_KEY)
    if estimates is None:
        estimates = gpu_queue_estimates_measured()
        cache.set(QUEUE_SNAPSHOT_KEY, estimates, timeout=QUEUE_SNAPSHOT_SECONDS)
    return estimates
