"""How many GPUs the queue needs: from the last hour's arrivals and durations.

The GPU workers are a queue with several servers, and the textbook model of one (M/M/c, Erlang's
C formula) turns three figures into a wait: how often jobs arrive, how long one takes on average,
and how many GPUs serve them. Arrivals at launch are random enough for it; durations vary less
than it assumes, so its waits err long, which is the safe side for buying GPUs. To the steady
wait it adds the backlog already there, shared by the GPUs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avatars.gpu.estimates import (
    TRAINING_KIND,
    gpu_queue_estimates_measured,
    typical_seconds_for,
)
from avatars.models import JOB_MODELS, GpuJob, GpuUsage, RenderJob

WINDOW = timedelta(hours=1)
# More GPUs than this are not searched for: the answer is "more than the model can say".
MOST_GPUS_CONSIDERED = 1000


@dataclass(frozen=True)
class CapacityFigures:
    arrivals_per_hour: dict[str, int]  # per kind of job, queued in the last hour
    mean_seconds: dict[str, float]  # per kind: how long one took (the last hour's, else recent)
    workers_alive: int
    backlog_seconds: float  # GPU work waiting or still running now, in GPU-seconds
    wait_seconds: float | None  # a job arriving now, with the GPUs working now; None: no basis
    keeps_up: bool  # whether the GPUs working now do the work as fast as it arrives
    target_wait_seconds: float
    gpus_for_target: int | None  # the fewest GPUs that keep the wait under the target; None: no basis

    @property
    def arrivals_named(self) -> list[tuple[str, int]]:
        """The arrivals per kind, each kind in the reader's language."""
        return [(str(GpuUsage.Kind(kind).label), count) for kind, count in sorted(self.arrivals_per_hour.items())]

    @property
    def offered_load(self) -> float:
        """GPUs' worth of work arriving: 2.5 means two GPUs busy all the time, and half a third."""
        return sum(
            count * self.mean_seconds.get(kind, 0.0) for kind, count in self.arrivals_per_hour.items()
        ) / WINDOW.total_seconds()


def erlang_c_wait_seconds(*, arrivals_per_second: float, mean_seconds: float, servers: int) -> float:
    """The mean wait in an M/M/c queue; infinite when the servers can't keep up."""
    if arrivals_per_second <= 0:
        return 0.0
    load = arrivals_per_second * mean_seconds  # in servers' worth of work
    if servers <= load:
        return math.inf
    # Erlang's C formula in its numerically stable form, built up from the Erlang B recursion.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    waiting_probability = servers * blocking / (servers - load * (1 - blocking))
    return waiting_probability * mean_seconds / (servers - load)


def _wait_with(gpus: int, *, arrivals_per_second: float, mean_seconds: float, backlog_seconds: float) -> float:
    if gpus <= 0:
        return math.inf
    steady = erlang_c_wait_seconds(arrivals_per_second=arrivals_per_second, mean_seconds=mean_seconds, servers=gpus)
    return backlog_seconds / gpus + steady


def _kinds_of(table: str):
    return [TRAINING_KIND] if table == "training" else list(RenderJob.Kind.values)


def capacity_figures(*, target_wait_seconds: float, now: datetime | None = None) -> CapacityFigures:
    now = now or timezone.now()
    since = now - WINDOW
    estimates = gpu_queue_estimates_measured(now=now)
    arrivals: dict[str, int] = {}
    durations: dict[str, list[float]] = {}
    for model in JOB_MODELS.values():
        kind_column = ["kind"] if model is RenderJob else []
        rows = model.objects.filter(Q(queued_at__gte=since) | Q(finished_at__gte=since)).values_list(
            "queued_at", "started_at", "finished_at", "status", *kind_column
        )
        for queued_at, started_at, finished_at, status, *kind in rows:
            kind = kind[0] if kind else TRAINING_KIND
            if queued_at >= since:
                arrivals[kind] = arrivals.get(kind, 0) + 1
            if status == GpuJob.Status.SUCCEEDED and started_at and finished_at and finished_at >= since:
                durations.setdefault(kind, []).append((finished_at - started_at).total_seconds())
    mean_seconds = {}
    for table in JOB_MODELS:
        for kind in _kinds_of(table):
            if durations.get(kind):
                mean_seconds[kind] = sum(durations[kind]) / len(durations[kind])
            elif (typical := typical_seconds_for(estimates.typical_seconds, kind)) is not None:
                mean_seconds[kind] = typical
    known = all(kind in mean_seconds for kind in arrivals)
    backlog = estimates.backlog_seconds
    arrivals_per_second = sum(arrivals.values()) / WINDOW.total_seconds()
    total = sum(arrivals.values())
    mean = sum(count * mean_seconds.get(kind, 0.0) for kind, count in arrivals.items()) / total if total else 0.0
    workers = estimates.workers_alive
    wait = keeps_up = None
    gpus_needed = None
    if known:
        load = arrivals_per_second * mean
        keeps_up = workers > load
        if workers > 0:
            wait = _wait_with(workers, arrivals_per_second=arrivals_per_second, mean_seconds=mean, backlog_seconds=backlog)
            if math.isinf(wait):
                # Arrivals outrun the GPUs: the wait grows without end; the backlog is its floor now.
                wait = backlog / workers
        gpus_needed = next(
            (gpus for gpus in range(1, MOST_GPUS_CONSIDERED + 1)
             if _wait_with(gpus, arrivals_per_second=arrivals_per_second, mean_seconds=mean,
                           backlog_seconds=backlog) <= target_wait_seconds),
            None,
        )
    return CapacityFigures(
        arrivals_per_hour=arrivals, mean_seconds=mean_seconds, workers_alive=workers, backlog_seconds=backlog,
        wait_seconds=wait, keeps_up=bool(keeps_up), target_wait_seconds=target_wait_seconds,
        gpus_for_target=gpus_needed,
    )


def operator_target_wait_seconds(minutes: float | None = None) -> float:
    """The operator's target wait: `minutes` when given (the dashboard's field), else
    LIKENESS_TARGET_WAIT_MINUTES."""
    return 60.0 * (settings.LIKENESS_TARGET_WAIT_MINUTES if minutes is None else minutes)


class TargetWaitForm(forms.Form):
    target_wait_minutes = forms.FloatField(
        label=_("Target wait (minutes)"), min_value=0.1, max_value=24 * 60, required=False,
    )


def capacity_for_dashboard(query) -> tuple[TargetWaitForm, CapacityFigures]:
    """The dashboard's capacity block: the figures for the target the operator typed, or for
    LIKENESS_TARGET_WAIT_MINUTES while the field is empty or wrong (the form then says why)."""
    form = TargetWaitForm(query or None)
    minutes = form.cleaned_data.get("target_wait_minutes") if form.is_valid() else None
    return form, capacity_figures(target_wait_seconds=operator_target_wait_seconds(minutes))
