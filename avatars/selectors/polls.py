"""The version of what an avatar's progress poll shows, read in one query.

A waiting customer's tab polls every two seconds. Every row the poll's answer is made of is
summed up here, in one statement the database answers from its indexes: the avatar's status
and portraits, each of its jobs (status, progress, attempts, the heartbeat every progress write
stamps, the finish, its style's last edit) and everyone's queue (which jobs wait or run, and
the latest claim), since positions and waits move when other people's jobs do. Any write to
those rows, from any process, changes the version; nothing has to remember to replace it.
What moves with time alone (a wait counting down) is the poll answer's freshness, not this.
"""

from __future__ import annotations

from functools import lru_cache

from django.core.cache import cache
from django.db import connection

from avatars.gpu.estimates import QUEUE_SNAPSHOT_KEY, QUEUE_SNAPSHOT_SECONDS
from avatars.models import Avatar, GpuJob, Portrait, RenderJob, TrainingJob
from styles.models import StyleTemplate

_ACTIVE = (GpuJob.Status.QUEUED, GpuJob.Status.RUNNING)


def _joined(*figures: str) -> str:
    """SQL for the figures as one string; each as text, so that both databases join them alike."""
    return " || ':' || ".join(f"COALESCE(CAST({figure} AS TEXT), '')" for figure in figures)


@lru_cache(maxsize=None)
def _version_sql() -> str:
    avatars, portraits = Avatar._meta.db_table, Portrait._meta.db_table
    trainings, renders, templates = TrainingJob._meta.db_table, RenderJob._meta.db_table, StyleTemplate._meta.db_table
    # Statuses as figures: a job moving from one to another changes their sum.
    status_code = " ".join(f"WHEN '{status}' THEN {10 ** index}" for index, status in enumerate(GpuJob.Status.values))
    shown = "status, stage, progress, attempts, heartbeat_at, finished_at"
    own = (
        f"(SELECT {_joined('COUNT(*)', f'SUM(CASE j.status {status_code} ELSE 0 END)', 'SUM(j.progress)', 'SUM(j.attempts)', 'MAX(j.heartbeat_at)', 'MAX(j.finished_at)', 'SUM(LENGTH(j.stage))', 'MAX(t.updated_at)')} "
        f"FROM (SELECT {shown}, NULL AS template_id FROM {trainings} WHERE avatar_id = a.id "
        f"UNION ALL SELECT {shown}, template_id FROM {renders} WHERE avatar_id = a.id) j "
        f"LEFT JOIN {templates} t ON t.id = j.template_id)"
    )
    active = ", ".join(f"'{status}'" for status in _ACTIVE)
    queue = (
        f"(SELECT {_joined('COUNT(*)', 'SUM(q.id)', 'SUM(q.attempts)', 'MAX(q.started_at)')} "
        f"FROM (SELECT id, attempts, started_at FROM {trainings} WHERE status IN ({active}) "
        f"UNION ALL SELECT id, attempts, started_at FROM {renders} WHERE status IN ({active})) q)"
    )
    portrait_count = f"(SELECT COUNT(*) FROM {portraits} p WHERE p.avatar_id = a.id)"
    # The queue's figures last: avatar_progress_estimates_follow reads them off the end.
    columns = ", ".join(["a.status", portrait_count, own, queue])
    return f"SELECT {columns} FROM {avatars} a WHERE a.public_id = %s AND a.user_id = %s"


def avatar_progress_version(*, user_id: int, public_id) -> str | None:
    """A string that changes whenever the avatar's progress poll would answer differently
    (time apart); None when the user has no such avatar."""
    public_id = Avatar._meta.get_field("public_id").get_db_prep_value(public_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_version_sql(), [public_id, user_id])
        row = cursor.fetchone()
    return None if row is None else "|".join(str(value) for value in row)


# How long a poll's answer holds while it tells no wait. Its rows changing changes the version
# at once; this bounds only what moves with time alone (the workers seen lately, the recent
# arrivals the estimates count).
ANSWER_HOLDS_SECONDS = 30
# The page words a wait to a tenth or better (avatars.gpu.progress): an answer that tells one
# holds for a twentieth of the shortest it tells, so its words are never more than a step behind.
WAIT_PRECISION_SHARE = 20


def avatar_progress_holds_seconds(*, progress: dict) -> float:
    """How long avatar_progress's answer may be given again while its version stands."""
    told = [job[field] for job in progress["jobs"] for field in ("wait_seconds", "eta_seconds")]
    told = [seconds for seconds in [*told, progress["eta_seconds"]] if seconds is not None]
    if not told:
        return ANSWER_HOLDS_SECONDS
    return min(ANSWER_HOLDS_SECONDS, max(1.0, min(told) / WAIT_PRECISION_SHARE))


# Which queue version the shared queue estimates were last measured for (see below).
_ESTIMATES_QUEUE_VERSION_KEY = "poll:queue-version-measured"


def avatar_progress_estimates_follow(version: str) -> None:
    """Before an answer is built for `version`: the shared queue estimates (kept for
    QUEUE_SNAPSHOT_SECONDS) are measured again when they were measured for another state of the
    queue, or the answer built now and kept under the new version would show the queue as it was."""
    queue = version.rsplit("|", 1)[1]
    if cache.get(_ESTIMATES_QUEUE_VERSION_KEY) != queue:
        cache.delete(QUEUE_SNAPSHOT_KEY)
        cache.set(_ESTIMATES_QUEUE_VERSION_KEY, queue, QUEUE_SNAPSHOT_SECONDS)


def avatar_progress_version_for_request(request, public_id) -> str | None:
    """avatar_progress_version for the signed-in person (a polled view's `version`)."""
    if not request.user.is_authenticated:
        return None
    return avatar_progress_version(user_id=request.user.pk, public_id=public_id)
