"""How an avatar's build is going in words: builds that failed for good and why, and the progress line's wording."""

from __future__ import annotations

from django.db.models import (
    Count,
    Q,
    QuerySet,
)
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from accounts.notices import stored_sentence_words
from avatars.models import Avatar, GpuJob, RenderJob, TrainingJob
from avatars.selectors.avatars import ACTIVE_JOB_STATUSES

# Stored as English on the refund; marked so the refund mail words them in the reader's language.
BUILD_FAILED_TRAINING = gettext_noop("Avatar training failed")


BUILD_FAILED_RENDERING = gettext_noop("No portrait could be rendered")


def avatar_has_initial_renders_waiting(*, avatar_id: int, other_than: int | None = None) -> bool:
    """Whether a first portrait of the avatar is still queued or rendering (not counting job `other_than`)."""
    return (
        RenderJob.objects.filter(avatar_id=avatar_id, kind=RenderJob.Kind.INITIAL, status__in=ACTIVE_JOB_STATUSES)
        .exclude(pk=other_than)
        .exists()
    )


def training_failure_words(*, job_id: int) -> str:
    """Why a training failed for good, in the active language ("" if it did not say)."""
    job = TrainingJob.objects.only("failure_reason", "failure_reason_parts").get(pk=job_id)
    parts = job.failure_reason_parts
    if not parts.get("message"):
        return job.failure_reason  # written before reasons were stored in parts
    return stored_sentence_words(parts["message"], parts.get("params"))


def avatar_build_failure_reason(*, avatar: Avatar) -> str | None:
    """Why the avatar's current build failed for good, in words for its owner; None while it
    may still succeed, or did. Failed for good: its training failed every attempt, or it was
    trained but every one of its first portraits failed every attempt."""
    if avatar.status == Avatar.Status.FAILED:
        failed = avatar.training_jobs.filter(status=GpuJob.Status.FAILED).order_by("-finished_at").first()
        return (failed.failure_reason if failed is not None else "") or BUILD_FAILED_TRAINING
    if avatar.status != Avatar.Status.READY:
        return None
    initial = RenderJob.objects.filter(avatar=avatar, kind=RenderJob.Kind.INITIAL)
    still_possible = initial.exclude(status__in=[GpuJob.Status.FAILED, GpuJob.Status.CANCELLED])
    if initial.filter(status=GpuJob.Status.FAILED).exists() and not still_possible.exists():
        return BUILD_FAILED_RENDERING
    return None


def avatar_list_build_failed() -> QuerySet[Avatar]:
    """Avatars whose current build failed for good (see avatar_build_failure_reason), for the
    reconciliation: the same rule, as one query."""
    initial_failed = Q(render_jobs__kind=RenderJob.Kind.INITIAL, render_jobs__status=GpuJob.Status.FAILED)
    initial_possible = Q(
        render_jobs__kind=RenderJob.Kind.INITIAL,
        render_jobs__status__in=[*ACTIVE_JOB_STATUSES, GpuJob.Status.SUCCEEDED],
    )
    return (
        Avatar.objects.annotate(
            initial_failed=Count("render_jobs", filter=initial_failed),
            initial_possible=Count("render_jobs", filter=initial_possible),
        )
        .filter(
            Q(status=Avatar.Status.FAILED)
            | Q(status=Avatar.Status.READY, initial_failed__gt=0, initial_possible=0)
        )
    )


def avatar_progress_summary(*, progress: dict) -> str:
    """The one line over the progress bar, in words, from avatar_progress's data: the avatar's
    status alone says "Ready" while its first portraits are still being rendered."""
    jobs = progress["jobs"]
    running = [job for job in jobs if job["status"] == GpuJob.Status.RUNNING]
    waiting = [job for job in jobs if job["status"] == GpuJob.Status.QUEUED]
    if progress["failed"]:
        line = _("Training failed")
    elif progress["avatar_status"] in (Avatar.Status.PAID, Avatar.Status.TRAINING):
        line = _("Training your avatar") if running else _("Waiting for a free GPU to train your avatar")
    elif running or waiting:
        left = len(running) + len(waiting)
        line = (_("Rendering your portraits: %(left)s to go") if running
                else _("%(left)s portraits waiting for a free GPU")) % {"left": left}
    else:
        return _("All done: your portraits are below")
    if progress["eta_seconds"]:
        return _("%(line)s, about %(duration)s left") % {"line": line, "duration": _duration_words(progress["eta_seconds"])}
    ahead = [job["queue_position"] for job in waiting if job["queue_position"] is not None]
    if ahead and not running:
        # No basis for a time (no GPU worker seen lately, or a kind of job never run yet).
        return _("%(line)s, in the queue, about %(count)s ahead") % {"line": line, "count": min(ahead)}
    return line


def _duration_words(seconds: int) -> str:
    if seconds < 90:
        return _("%(seconds)s s") % {"seconds": seconds}
    return _("%(minutes)s min") % {"minutes": round(seconds / 60)}


# Words for a job's state in the customer's list, instead of the status codes.
JOB_STATE_WORDS = {
    GpuJob.Status.QUEUED: gettext_lazy("Waiting"),
    GpuJob.Status.RUNNING: gettext_lazy("In progress"),
    GpuJob.Status.SUCCEEDED: gettext_lazy("Done"),
    GpuJob.Status.FAILED: gettext_lazy("Could not be finished"),
    GpuJob.Status.CANCELLED: gettext_lazy("Cancelled"),
}


def job_state_words(*, job: dict) -> str:
    """How one of avatar_progress's jobs reads to its owner: "In progress: 40% · learning your face:
    likeness 78", "Waiting: 2 ahead"."""
    words = str(JOB_STATE_WORDS.get(job["status"], job["status"]))
    if job["status"] == GpuJob.Status.RUNNING:
        # The stage is already in words ("learning your face: likeness 78", see job_stage_words).
        line = _("%(state)s: %(progress)s%%") % {"state": words, "progress": job["progress"]}
        return _("%(line)s · %(stage)s") % {"line": line, "stage": job["stage"]} if job["stage"] else line
    if job["status"] == GpuJob.Status.QUEUED and job["queue_position"]:
        return _("%(state)s: %(count)s ahead") % {"state": words, "count": job["queue_position"]}
    return words
