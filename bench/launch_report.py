"""The launch simulation's records (a customer, the figures gathered) and its report: waits per kind, first work behind re-rolls, the estimates' error, polls and jobs, each figure next to its goal."""

from __future__ import annotations

import math
import os
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

GOAL_ESTIMATE_P90 = 0.25
GOAL_POLL_MS = 2.0
# A wait this short (real seconds) is a worker's pick-up time, not a wait worth a relative error.
SHORTEST_WAIT_JUDGED = 1.0
AHEAD_BUCKETS = (0, 2, 5, 10, 20, 50, 100, 200, 500, math.inf)
WAIT_BUCKETS = (1, 2, 5, 10, 20, 40, 80, math.inf)


@dataclass
class Customer:
    user_id: int
    avatar_id: int
    public_id: str
    arrives_at: float  # real seconds from the start
    paid: bool
    rerolls_wanted: int
    more_like_me_wanted: int
    client: object = None
    etag: str = ""
    next_poll_at: float = 0.0
    asked_more: bool = False
    done: bool = False


@dataclass
class Figures:
    poll_ms: list[float] = field(default_factory=list)
    poll_queries: list[int] = field(default_factory=list)
    polls_304: int = 0
    polls_with_number: int = 0
    polls_waiting: int = 0
    # (table, job id, real time of the poll, seconds until a worker takes it as shown, jobs ahead)
    shown: list[tuple[str, int, float, float, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    killed_job: tuple[str, int] | None = None
    requeued_at: dict[tuple[str, int], float] = field(default_factory=dict)  # jobs run again: when requeued


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]



def report(args, figures: Figures, customers, hour: float) -> None:
    from django.db.models import Count
    from django_q.models import OrmQ

    from avatars.models import GpuJob, Portrait, RenderJob, TrainingJob

    start = figures.start
    simulated = args.compress / 60  # simulated minutes per real second
    jobs = []  # (table, id, kind, class, queued, started, finished, status, attempts)
    for model, table in ((TrainingJob, "training"), (RenderJob, "render")):
        columns = ["pk", "queued_at", "started_at", "finished_at", "status", "attempts",
                   *(["kind"] if model is RenderJob else [])]
        for pk, queued, started, finished, status, attempts, *kind in model.objects.values_list(*columns):
            kind = kind[0] if kind else "training"
            queue_class = 0 if kind == "training" else 1 if kind == "initial" else 2
            jobs.append((table, pk, kind, queue_class, queued.timestamp(), started and started.timestamp(),
                         finished and finished.timestamp(), status, attempts))
    print(f"\nRan {figures.elapsed:.0f} s real ({figures.elapsed * simulated:.0f} simulated minutes); "
          f"{len(customers)} paid avatars arrived; {len(jobs)} GPU jobs; "
          f"load average now {os.getloadavg()[0]:.1f}")

    print("\nWait for a GPU, simulated minutes (goal: first work waits only behind first work)")
    print(f"  {'kind':<14}{'jobs':>6}{'p50':>9}{'p95':>9}")
    for kind in ("training", "initial", "reroll", "more_like_me"):
        waits = [(started - queued) * simulated for _, _, k, _, queued, started, *_ in jobs if k == kind and started]
        if waits:
            print(f"  {kind:<14}{len(waits):>6}{percentile(waits, 0.5):>9.2f}{percentile(waits, 0.95):>9.2f}")

    # First work behind later work: a re-roll or "more like me" started while a training or a
    # first portrait had been waiting (more than a pick-up's 0.2 s, the time one claim takes).
    # A job run again after the kill counts from its requeueing, not from when it was first
    # queued: while its first attempt ran it waited for nothing.
    requeued_at = figures.requeued_at
    later_starts = sorted((s, table, pk) for table, pk, _, cls, _, s, *_ in jobs if cls == 2 and s)
    later_times = [s for s, *_ in later_starts]
    first_work = [job for job in jobs if job[3] < 2 and job[5]]
    behind = []
    for table, pk, kind, _, queued, started, _, _, attempts in first_work:
        since = requeued_at.get((table, pk), queued) if attempts > 1 else queued
        overtaking = later_starts[bisect_left(later_times, since + 0.2):bisect_right(later_times, started)]
        if overtaking:
            behind.append((table, pk, kind, attempts, since, started, overtaking))
    print(f"\nTrainings and first portraits that waited while a re-roll or 'more like me' started: "
          f"{len(behind)} of {len(first_work)} (goal: 0)")
    for _, pk, kind, attempts, since, started, overtaking in behind[:5]:
        print(f"    {kind} {pk} (attempt {attempts}) waited {since - start:.2f}-{started - start:.2f} s real; "
              f"started meanwhile: " + ", ".join(f"{t} {p} at {s - start:.2f}" for s, t, p in overtaking[:3]))

    started_at = {(table, pk): started for table, pk, _, _, _, started, *_ in jobs}
    errors, errors_by_kind, errors_by_ahead, errors_by_wait = [], {}, {}, {}
    kind_of = {(table, pk): kind for table, pk, kind, *_ in jobs}
    for table, pk, polled_at, shown, ahead in figures.shown:
        real = started_at.get((table, pk))
        if real is None:
            continue
        actual = real - (start + polled_at)
        if actual >= SHORTEST_WAIT_JUDGED:
            signed = (shown - actual) / actual
            errors.append(abs(signed))
            errors_by_kind.setdefault(kind_of[(table, pk)], []).append(signed)
            errors_by_ahead.setdefault(next(b for b in AHEAD_BUCKETS if ahead <= b), []).append(signed)
            errors_by_wait.setdefault(next(b for b in WAIT_BUCKETS if actual * simulated <= b), []).append(signed)
    print(f"\nEstimates: {figures.polls_with_number} of {figures.polls_waiting} waiting polls showed a number "
          f"(the rest: 'in the queue, about N ahead'); judged {len(errors)} with a wait over "
          f"{SHORTEST_WAIT_JUDGED:g} s real")
    if errors:
        p90 = percentile(errors, 0.9)
        within = sum(1 for error in errors if error <= GOAL_ESTIMATE_P90) / len(errors)
        print(f"  error p50 {percentile(errors, 0.5):.0%}, p90 {p90:.0%} (goal p90 <= {GOAL_ESTIMATE_P90:.0%}: "
              f"{'met' if p90 <= GOAL_ESTIMATE_P90 else 'NOT met'}); within 25%: {within:.0%} of shown estimates")
        groups = [("kind", errors_by_kind, lambda key: key),
                  ("jobs ahead", errors_by_ahead, lambda key: f"<= {key}"),
                  ("real wait, sim. min", errors_by_wait, lambda key: f"<= {key}")]
        for title, grouped, label in groups:
            print(f"  by {title} (shown/real - 1):")
            for key, signed in sorted(grouped.items()):
                print(f"    {label(key)!s:<14} {len(signed):>5} judged: p10 {percentile(signed, 0.1):+.0%}, "
                      f"p50 {percentile(signed, 0.5):+.0%}, p90 {percentile(signed, 0.9):+.0%}; |error| p90 "
                      f"{percentile([abs(e) for e in signed], 0.9):.0%}")

    polls = figures.poll_ms
    print(f"\nPolls: {len(polls)} ({figures.polls_304} answered 304), in this process with the workers beside it: "
          f"p50 {percentile(polls, 0.5):.2f} ms, p95 {percentile(polls, 0.95):.2f} ms "
          f"(goal <= {GOAL_POLL_MS:g} ms in process on a quiet machine: see bench/load.py); "
          f"queries per poll p50 {percentile(figures.poll_queries, 0.5):.0f}, max {max(figures.poll_queries, default=0)}")

    by_status = {}
    for job in jobs:
        by_status[job[7]] = by_status.get(job[7], 0) + 1
    portraits_per_job = Portrait.objects.values("render_job").annotate(n=Count("pk")).filter(n__gt=1).count()
    print(f"\nJobs by status: {by_status} (goal: all succeeded)")
    print(f"  run twice (a job with more than one portrait): {portraits_per_job} (goal: 0)")
    print(f"  lost (not done at the end): {sum(1 for job in jobs if job[7] != GpuJob.Status.SUCCEEDED)} (goal: 0); "
          f"tasks left in the broker: {OrmQ.objects.count()}")
    print(f"  customers not finished: {sum(1 for c in customers if not c.done)} (goal: 0)")
    if figures.killed_job:
        again = [job for job in jobs if job[8] > 1]
        described = ", ".join(
            f"{table} {pk}: {status} after {attempts} attempts"
            + (f", {Portrait.objects.filter(render_job_id=pk).count()} portrait(s)" if table == "render" else "")
            for table, pk, _, _, _, _, _, status, attempts in again
        )
        print(f"  jobs run again after the kill: {described or 'none'} (goal: the killed worker's one job, "
              "succeeded on its second attempt, one portrait)")
    print(f"\nErrors: {len(figures.errors)} (goal: 0){': ' + '; '.join(sorted(set(figures.errors))[:5]) if figures.errors else ''}")
