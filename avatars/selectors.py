"""Avatar reads: what the pages and the API show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet
from django.shortcuts import get_object_or_404

from avatars.models import Avatar, Photo, Portrait, RenderJob, TrainingJob


def avatar_list_for_user(*, user) -> QuerySet[Avatar]:
    return Avatar.objects.filter(user=user).exclude(status=Avatar.Status.DELETED)


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
        .annotate(failed_at=Max("training_jobs__finished_at", filter=Q(training_jobs__status="failed")))
        .filter(failed_at__lt=failed_before)
        .order_by("failed_at")
    )


def avatar_failed_photos_kept_until(*, avatar: Avatar) -> datetime | None:
    """When a failed avatar's photos will be deleted unless the person starts it again."""
    if avatar.status != Avatar.Status.FAILED or avatar.photos_deleted_at is not None:
        return None
    failed_at = avatar.training_jobs.filter(status="failed").aggregate(at=Max("finished_at"))["at"]
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


def _jobs_ahead_in_queue(jobs) -> dict:
    """For each waiting job's queue time: how many GPU jobs were queued before it and are
    still waiting or running. One query per job table, however many of `jobs` wait."""
    moments = sorted({job.queued_at for job in jobs if job.status == "queued"})
    ahead = dict.fromkeys(moments, 0)
    if not moments:
        return ahead
    for model in (TrainingJob, RenderJob):
        counts = model.objects.filter(status__in=["queued", "running"]).aggregate(
            **{f"before_{index}": Count("pk", filter=Q(queued_at__lt=moment)) for index, moment in enumerate(moments)}
        )
        for index, moment in enumerate(moments):
            ahead[moment] += counts[f"before_{index}"]
    return ahead


def _typical_seconds(model) -> float | None:
    """How long one of these jobs takes, over the last twenty. A statistic over everyone's jobs
    that every progress poll reads: kept in the cache for a minute."""
    key = f"typical-seconds:{model._meta.label_lower}"
    typical = cache.get(key)
    if typical is None:
        typical = {"seconds": _typical_seconds_measured(model)}
        cache.set(key, typical, timeout=60)
    return typical["seconds"]


def _typical_seconds_measured(model) -> float | None:
    recent = list(
        model.objects.filter(status="succeeded", started_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:20]
    )
    if not recent:
        return None
    return sum((finished - started).total_seconds() for started, finished in recent) / len(recent)


def _eta(job, typical: float | None) -> int | None:
    if typical is None:
        return None
    if job.status == "running" and job.progress > 2:
        return int(typical * (100 - job.progress) / 100)
    return int(typical)


def avatar_progress(*, avatar: Avatar) -> dict:
    """Everything the live progress page shows, as JSON-ready data."""
    training = avatar.training_jobs.order_by("-queued_at").first()
    renders = list(avatar.render_jobs.select_related("template").order_by("queued_at", "pk"))
    ahead_in_queue = _jobs_ahead_in_queue([job for job in (training, *renders) if job is not None])
    jobs: list[JobProgress] = []
    if training is not None:
        jobs.append(JobProgress(
            kind="training", label="Training your avatar", status=training.status, stage=training.stage,
            progress=training.progress,
            queue_position=ahead_in_queue.get(training.queued_at) if training.status == "queued" else None,
            eta_seconds=_eta(training, _typical_seconds(TrainingJob)) if training.is_active else None,
        ))
    typical_render = _typical_seconds(RenderJob) if any(r.is_active for r in renders) else None
    for job in renders:
        jobs.append(JobProgress(
            kind="render", label=f"{job.get_kind_display()}: {job.template.title}", status=job.status,
            stage=job.stage, progress=job.progress,
            queue_position=ahead_in_queue.get(job.queued_at) if job.status == "queued" else None,
            eta_seconds=_eta(job, typical_render) if job.is_active else None,
        ))
    active = [j for j in jobs if j.status in ("queued", "running")]
    total = len(jobs) or 1
    overall = int(sum(100 if j.status == "succeeded" else j.progress for j in jobs) / total)
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


@dataclass(frozen=True)
class EngineReport:
    engine_label: str
    reported_at: datetime
    job_kind: str  # "training" or "rendering"


def engine_report_latest() -> EngineReport | None:
    """Which base model the GPU workers run, as their newest finished job recorded it: the
    engine label of the last trained avatar or the last rendered portrait, whichever is newer.
    None before any job has finished."""
    trained = (
        Avatar.objects.exclude(engine_label="").filter(trained_at__isnull=False)
        .order_by("-trained_at").values_list("engine_label", "trained_at").first()
    )
    rendered = (
        Portrait.objects.exclude(engine_label="").order_by("-created_at")
        .values_list("engine_label", "created_at").first()
    )
    reports = []
    if trained is not None:
        reports.append(EngineReport(*trained, job_kind="training"))
    if rendered is not None:
        reports.append(EngineReport(*rendered, job_kind="rendering"))
    return max(reports, key=lambda report: report.reported_at, default=None)
