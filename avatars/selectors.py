"""Avatar reads: what the pages and the API show."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Count, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from avatars.models import Avatar, GpuJob, Photo, Portrait, RenderJob, TrainingJob
from styles.models import StyleTemplate

ACTIVE_JOB_STATUSES = (GpuJob.Status.QUEUED, GpuJob.Status.RUNNING)


def avatar_list_for_user(*, user) -> QuerySet[Avatar]:
    return Avatar.objects.filter(user=user)


def avatar_get_for_user(*, user, public_id) -> Avatar:
    """The user's own avatar or a 404: another user's avatar does not exist for them."""
    return get_object_or_404(avatar_list_for_user(user=user), public_id=public_id)


def photo_get_for_user(*, user, avatar: Avatar, photo_id: int) -> Photo:
    return get_object_or_404(Photo.objects.filter(avatar__user=user, avatar=avatar), pk=photo_id)


def portrait_get_for_user(*, user, public_id) -> Portrait:
    return get_object_or_404(
        Portrait.objects.select_related("avatar", "template").filter(avatar__user=user), public_id=public_id
    )


def avatar_list_failed_with_photos(*, failed_before: datetime) -> QuerySet[Avatar]:
    """Avatars whose last training failed for good before `failed_before`, not started again,
    with uploaded photos still stored."""
    return (
        Avatar.objects.filter(status=Avatar.Status.FAILED, photos_deleted_at__isnull=True)
        .annotate(failed_at=Max("training_jobs__finished_at", filter=Q(training_jobs__status=TrainingJob.Status.FAILED)))
        .filter(failed_at__lt=failed_before)
        .order_by("failed_at")
    )


def avatar_failed_photos_kept_until(*, avatar: Avatar) -> datetime | None:
    """When a failed avatar's photos will be deleted unless the person starts it again."""
    if avatar.status != Avatar.Status.FAILED or avatar.photos_deleted_at is not None:
        return None
    failed_at = avatar.training_jobs.filter(status=TrainingJob.Status.FAILED).aggregate(at=Max("finished_at"))["at"]
    if failed_at is None:
        return None
    return failed_at + timedelta(days=settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS)


def photo_list_for_avatar(*, avatar: Avatar) -> QuerySet[Photo]:
    return avatar.photos.exclude(status=Photo.Status.REMOVED).order_by("created_at", "pk")


@dataclass
class PhotoReadiness:
    accepted: int
    required: int
    refused: list[Photo] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return max(0, self.required - self.accepted)

    @property
    def ready(self) -> bool:
        return self.missing == 0


def avatar_photo_readiness(*, avatar: Avatar) -> PhotoReadiness:
    photos = list(photo_list_for_avatar(avatar=avatar))
    return PhotoReadiness(
        accepted=sum(1 for p in photos if p.status == Photo.Status.ACCEPTED),
        required=settings.LIKENESS_MIN_PHOTOS,
        refused=[p for p in photos if p.status == Photo.Status.REJECTED],
    )


def portrait_list_for_avatar(*, avatar: Avatar) -> QuerySet[Portrait]:
    return avatar.portraits.select_related("template").order_by("template__sort_order", "template_id", "-created_at")


def portrait_download_name(*, portrait: Portrait) -> str:
    """The file name a downloaded portrait is saved under."""
    return f"likeness-{portrait.template.slug}-v{portrait.version}.png"


def portrait_versions(*, portrait: Portrait) -> list[Portrait]:
    """The "more like me" chain this portrait belongs to, oldest first."""
    root = portrait
    seen = {root.pk}
    while root.more_like_me_of_id and root.more_like_me_of_id not in seen:
        root = Portrait.objects.get(pk=root.more_like_me_of_id)
        seen.add(root.pk)
    chain, frontier = [root], [root.pk]
    while frontier:
        children = list(Portrait.objects.filter(more_like_me_of_id__in=frontier).order_by("version", "created_at"))
        chain.extend(children)
        frontier = [c.pk for c in children]
    return chain


@dataclass
class JobProgress:
    kind: str
    label: str
    status: str
    stage: str
    progress: int
    queue_position: int | None
    eta_seconds: int | None


# Queue positions and typical durations are figures over everyone's jobs that every waiting
# customer's open tab reads every two seconds: they are measured once per table and shared
# through the cache, so a queue position may lag by up to QUEUE_FIGURES_SECONDS.
QUEUE_FIGURES_SECONDS = 2
TYPICAL_SECONDS_KEPT_SECONDS = 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _queued_moments_measured(model) -> array:
    """When each of the table's waiting or running jobs was queued, in microseconds, sorted."""
    moments = model.objects.filter(status__in=ACTIVE_JOB_STATUSES).order_by("queued_at").values_list(
        "queued_at", flat=True
    )
    return array("q", (_microseconds(moment) for moment in moments))


def _typical_seconds_measured(model) -> float | None:
    """How long one of these jobs takes, over the last twenty."""
    recent = list(
        model.objects.filter(status=GpuJob.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:20]
    )
    if not recent:
        return None
    return sum((finished - started).total_seconds() for started, finished in recent) / len(recent)


def _queued_moments_key(model) -> str:
    return f"queued-moments:{model._meta.label_lower}"


def _typical_seconds_key(model) -> str:
    return f"typical-seconds:{model._meta.label_lower}"


def _figures_shared_by_every_poll(*, queue: bool, typical_of: list) -> dict:
    """The shared figures a poll needs, in one cache round trip: every job table's queued moments
    when `queue`, and the typical seconds of each model in `typical_of`. A figure missing from
    the cache is measured and kept."""
    wanted = {}
    if queue:
        for model in (TrainingJob, RenderJob):
            wanted[_queued_moments_key(model)] = (model, _queued_moments_measured, QUEUE_FIGURES_SECONDS)
    for model in typical_of:
        wanted[_typical_seconds_key(model)] = (model, _typical_seconds_measured, TYPICAL_SECONDS_KEPT_SECONDS)
    figures = cache.get_many(wanted) if wanted else {}
    for key, (model, measure, seconds) in wanted.items():
        if key not in figures:
            figures[key] = measure(model)
            cache.set(key, figures[key], timeout=seconds)
    return figures


def _jobs_ahead_in_queue(jobs, figures: dict) -> dict:
    """For each waiting job's queue time: how many GPU jobs, in every job table, were queued
    before it and are still waiting or running (as the shared figures last saw them)."""
    moments = {job.queued_at for job in jobs if job.status == GpuJob.Status.QUEUED}
    tables = [figures[_queued_moments_key(model)] for model in (TrainingJob, RenderJob)] if moments else []
    return {
        moment: sum(bisect_left(queued, _microseconds(moment)) for queued in tables) for moment in moments
    }


def _eta(job, typical: float | None) -> int | None:
    if typical is None:
        return None
    if job.status == GpuJob.Status.RUNNING and job.progress > 2:
        return int(typical * (100 - job.progress) / 100)
    return int(typical)


class _JobShown(NamedTuple):
    """One of the avatar's jobs, with only what its progress line shows."""

    table: str  # "training" or "render"
    pk: int
    status: str
    stage: str
    progress: int
    queued_at: datetime
    kind: str
    template_title: str

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


def _jobs_shown(*, avatar: Avatar) -> tuple[_JobShown | None, list[_JobShown]]:
    """The avatar's latest training job and its render jobs in queue order, read in one query."""
    columns = _JobShown._fields
    training = (
        TrainingJob.objects.filter(avatar=avatar).order_by()
        .annotate(table=Value("training"), kind=Value(""), template_title=Value(""))
        .values_list(*columns)
    )
    renders = (
        RenderJob.objects.filter(avatar=avatar).order_by()
        .annotate(table=Value("render"), template_title=F("template__title"))
        .values_list(*columns)
    )
    rows = [_JobShown(*row) for row in training.union(renders, all=True)]
    trainings = [row for row in rows if row.table == "training"]
    latest_training = max(trainings, key=lambda row: (row.queued_at, row.pk)) if trainings else None
    return latest_training, sorted((row for row in rows if row.table == "render"), key=lambda row: (row.queued_at, row.pk))


def avatar_progress(*, avatar: Avatar) -> dict:
    """Everything the live progress page shows, as JSON-ready data."""
    training, renders = _jobs_shown(avatar=avatar)
    shown = [job for job in (training, *renders) if job is not None]
    figures = _figures_shared_by_every_poll(
        queue=any(job.status == GpuJob.Status.QUEUED for job in shown),
        typical_of=[
            model for model, active in (
                (TrainingJob, training is not None and training.is_active),
                (RenderJob, any(job.is_active for job in renders)),
            ) if active
        ],
    )
    ahead_in_queue = _jobs_ahead_in_queue(shown, figures)
    jobs: list[JobProgress] = []
    if training is not None:
        jobs.append(JobProgress(
            kind="training", label="Training your avatar", status=training.status, stage=training.stage,
            progress=training.progress,
            queue_position=ahead_in_queue.get(training.queued_at) if training.status == GpuJob.Status.QUEUED else None,
            eta_seconds=(
                _eta(training, figures[_typical_seconds_key(TrainingJob)]) if training.is_active else None
            ),
        ))
    typical_render = figures.get(_typical_seconds_key(RenderJob))
    for job in renders:
        jobs.append(JobProgress(
            kind="render", label=f"{RenderJob.Kind(job.kind).label}: {job.template_title}", status=job.status,
            stage=job.stage, progress=job.progress,
            queue_position=ahead_in_queue.get(job.queued_at) if job.status == GpuJob.Status.QUEUED else None,
            eta_seconds=_eta(job, typical_render) if job.is_active else None,
        ))
    active = [j for j in jobs if j.status in ACTIVE_JOB_STATUSES]
    total = len(jobs) or 1
    overall = int(sum(100 if j.status == GpuJob.Status.SUCCEEDED else j.progress for j in jobs) / total)
    return {
        "avatar_status": avatar.status,
        "avatar_status_label": avatar.get_status_display(),
        "overall_progress": overall,
        "done": avatar.status == Avatar.Status.READY and not active,
        "failed": avatar.status == Avatar.Status.FAILED,
        "portrait_count": avatar.portraits.count(),
        "jobs": [j.__dict__ for j in jobs],
        "eta_seconds": max((j.eta_seconds or 0 for j in active), default=0) or None,
    }


def avatar_list_for_user_with_counts(*, user) -> QuerySet[Avatar]:
    """The user's avatars with their accepted-photo and portrait counts and chosen templates, for lists."""
    return (
        avatar_list_for_user(user=user)
        .annotate(
            accepted_photo_count=Count("photos", filter=Q(photos__status=Photo.Status.ACCEPTED), distinct=True),
            portrait_count=Count("portraits", distinct=True),
        )
        .prefetch_related("templates")
        .order_by("-created_at", "-pk")
    )


def portrait_list_for_user(*, user, avatar: Avatar | None = None) -> QuerySet[Portrait]:
    portraits = Portrait.objects.filter(avatar__user=user).select_related("avatar", "template", "more_like_me_of")
    if avatar is not None:
        portraits = portraits.filter(avatar=avatar)
    return portraits.order_by("-created_at", "-pk")


# --- Builds that failed for good ---------------------------------------------------------

BUILD_FAILED_TRAINING = "Avatar training failed"
BUILD_FAILED_RENDERING = "No portrait could be rendered"


def avatar_has_initial_renders_waiting(*, avatar_id: int, other_than: int | None = None) -> bool:
    """Whether a first portrait of the avatar is still queued or rendering (not counting job `other_than`)."""
    return (
        RenderJob.objects.filter(avatar_id=avatar_id, kind=RenderJob.Kind.INITIAL, status__in=ACTIVE_JOB_STATUSES)
        .exclude(pk=other_than)
        .exists()
    )


def avatar_build_failure_reason(*, avatar: Avatar) -> str | None:
    """Why the avatar's current build failed for good, in words for its owner; None while it
    may still succeed, or did. Failed for good: its training failed every attempt, or it was
    trained but every one of its first portraits failed every attempt."""
    if avatar.status == Avatar.Status.FAILED:
        return BUILD_FAILED_TRAINING
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


# --- Figures per style template, for the operator ------------------------------------------


def template_list_with_statistics(queryset: QuerySet[StyleTemplate]) -> QuerySet[StyleTemplate]:
    """The operator's figures per style template (portraits, downloads, likeness, "more like me"
    clicks), one correlated subquery each so joins cannot multiply them."""
    portraits = Portrait.objects.filter(template=OuterRef("pk")).order_by().values("template")
    return queryset.annotate(
        render_count=Coalesce(
            Subquery(portraits.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), Value(0)
        ),
        download_total=Coalesce(
            Subquery(portraits.annotate(n=Sum("download_count")).values("n"), output_field=IntegerField()),
            Value(0),
        ),
        likeness_average=Subquery(portraits.annotate(a=Avg("likeness_score")).values("a")),
        more_like_me_count=Coalesce(
            Subquery(
                RenderJob.objects.filter(template=OuterRef("pk"), kind=RenderJob.Kind.MORE_LIKE_ME)
                .order_by()
                .values("template")
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            Value(0),
        ),
    )
