"""Avatar reads: what the pages and the API show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    """The file name a downloaded portrait is saved under; a test engine's output says so in it."""
    engine = "tiny-engine-" if engine_label_is_test_output(portrait.engine_label) else ""
    return f"likeness-{engine}{portrait.template.slug}-v{portrait.version}.png"


def engine_label_is_test_output(label: str) -> bool:
    """Whether an engine label names the tiny engine: random weights, output that shows nobody."""
    return label.startswith("tiny engine")


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
    moments = sorted({job.queued_at for job in jobs if job.status == GpuJob.Status.QUEUED})
    ahead = dict.fromkeys(moments, 0)
    if not moments:
        return ahead
    for model in (TrainingJob, RenderJob):
        counts = model.objects.filter(status__in=ACTIVE_JOB_STATUSES).aggregate(
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
        model.objects.filter(status=GpuJob.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:20]
    )
    if not recent:
        return None
    return sum((finished - started).total_seconds() for started, finished in recent) / len(recent)


def _eta(job, typical: float | None) -> int | None:
    if typical is None:
        return None
    if job.status == GpuJob.Status.RUNNING and job.progress > 2:
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
            queue_position=ahead_in_queue.get(training.queued_at) if training.status == GpuJob.Status.QUEUED else None,
            eta_seconds=_eta(training, _typical_seconds(TrainingJob)) if training.is_active else None,
        ))
    typical_render = _typical_seconds(RenderJob) if any(r.is_active for r in renders) else None
    for job in renders:
        jobs.append(JobProgress(
            kind="render", label=f"{job.get_kind_display()}: {job.template.title}", status=job.status,
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


# --- The customer's pages: pictures first ----------------------------------------------------

# Who each avatar's photos are of, and the template audiences that suit them: a person
# not described as a woman or a man is offered every style.
AUDIENCES_FOR_SUBJECT = {
    Avatar.SubjectClass.WOMAN: (StyleTemplate.Audience.ALL, StyleTemplate.Audience.WOMEN),
    Avatar.SubjectClass.MAN: (StyleTemplate.Audience.ALL, StyleTemplate.Audience.MEN),
}


def template_list_for_avatar(*, avatar: Avatar) -> QuerySet[StyleTemplate]:
    """The published templates whose audience includes the person the avatar is of."""
    templates = StyleTemplate.objects.filter(is_published=True).order_by("sort_order", "title")
    audiences = AUDIENCES_FOR_SUBJECT.get(avatar.subject_class)
    return templates.filter(audience__in=audiences) if audiences else templates


def avatar_progress_summary(*, progress: dict) -> str:
    """The one line over the progress bar, in words, from avatar_progress's data: the avatar's
    status alone says "Ready" while its first portraits are still being rendered."""
    jobs = progress["jobs"]
    running = [job for job in jobs if job["status"] == GpuJob.Status.RUNNING]
    waiting = [job for job in jobs if job["status"] == GpuJob.Status.QUEUED]
    if progress["failed"]:
        line = "Training failed"
    elif progress["avatar_status"] in (Avatar.Status.PAID, Avatar.Status.TRAINING):
        line = "Training your avatar" if running else "Waiting for a free GPU to train your avatar"
    elif running or waiting:
        left = len(running) + len(waiting)
        line = f"Rendering your portraits: {left} to go" if running else f"{left} portraits waiting for a free GPU"
    else:
        return "All done: your portraits are below"
    if progress["eta_seconds"]:
        line += f", about {_duration_words(progress['eta_seconds'])} left"
    return line


def _duration_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"


# Words for a job's state in the customer's list, instead of the status codes.
JOB_STATE_WORDS = {
    GpuJob.Status.QUEUED: "Waiting",
    GpuJob.Status.RUNNING: "In progress",
    GpuJob.Status.SUCCEEDED: "Done",
    GpuJob.Status.FAILED: "Could not be finished",
    GpuJob.Status.CANCELLED: "Cancelled",
}


def job_state_words(*, job: dict) -> str:
    """How one of avatar_progress's jobs reads to its owner: "In progress: 40%", "Waiting: 2 ahead"."""
    words = JOB_STATE_WORDS.get(job["status"], job["status"])
    if job["status"] == GpuJob.Status.RUNNING:
        return f"{words}: {job['progress']}%"
    if job["status"] == GpuJob.Status.QUEUED and job["queue_position"]:
        return f"{words}: {job['queue_position']} ahead"
    return words


def photo_thumbnail_jpeg(*, photo: Photo, size: int = 320) -> bytes:
    """A square thumbnail of a kept photo, centred on the face its check found."""
    from io import BytesIO

    from PIL import Image

    from avatars.engine.faces import crop_face

    with photo.image.open("rb") as handle, Image.open(handle) as image:
        thumbnail = crop_face(image, photo.face_box, size=size, margin=0.6)
    out = BytesIO()
    thumbnail.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _png_text_chunk(keyword: str, text: str) -> bytes:
    import struct
    import zlib

    data = keyword.encode("latin-1") + b"\0" + text.encode("latin-1", "replace")
    return struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))


def portrait_download_bytes(*, portrait: Portrait) -> bytes:
    """The full-size PNG as stored, with what made it written into its metadata (PNG text
    chunks after the header, pixels untouched): a tiny engine's output says so wherever it goes."""
    with portrait.image.open("rb") as handle:
        png = handle.read()
    header_end = 8 + 25  # the signature, then IHDR: length, type, 13 bytes of data, CRC
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        return png
    chunks = _png_text_chunk("Software", "Likeness")
    chunks += _png_text_chunk("Title", f"{portrait.template.title}, version {portrait.version}")
    if portrait.engine_label:
        chunks += _png_text_chunk("Comment", f"Engine: {portrait.engine_label}")
    return png[:header_end] + chunks + png[header_end:]


def avatar_portraits_zip_name(*, avatar: Avatar) -> str:
    return f"likeness-{avatar.public_id.hex[:8]}-portraits.zip"


def avatar_portraits_zip(*, avatar: Avatar) -> bytes:
    """Every portrait of the avatar in full size, one zip; each named as its own download is."""
    import zipfile
    from io import BytesIO

    out = BytesIO()
    used: dict[str, int] = {}
    # PNGs are compressed already: stored as they are.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for portrait in portrait_list_for_avatar(avatar=avatar).order_by("template__sort_order", "created_at"):
            name = portrait_download_name(portrait=portrait)
            used[name] = used.get(name, 0) + 1
            if used[name] > 1:
                name = name.removesuffix(".png") + f"-{used[name]}.png"
            try:
                archive.writestr(name, portrait_download_bytes(portrait=portrait))
            except FileNotFoundError:
                continue
    return out.getvalue()


def avatar_list_for_user_with_cover(*, user) -> QuerySet[Avatar]:
    """The user's avatars for "My avatars", each with its best portrait (highest likeness, then
    newest) as `cover_portrait_id` and its portrait count."""
    best = Portrait.objects.filter(avatar=OuterRef("pk")).order_by(
        F("likeness_score").desc(nulls_last=True), "-created_at"
    )
    return avatar_list_for_user(user=user).annotate(
        cover_portrait_id=Subquery(best.values("public_id")[:1]),
        portrait_count=Count("portraits", distinct=True),
    ).order_by("-created_at", "-pk")


@dataclass
class PortraitVersion:
    portrait: Portrait
    # Likeness points gained over the version before it; None when either was not measured.
    likeness_change: float | None


def portrait_versions_compared(*, portrait: Portrait) -> list[PortraitVersion]:
    """portrait_versions, each with how much closer to the person it came than the one before."""
    versions = portrait_versions(portrait=portrait)
    compared = []
    for before, version in zip([None, *versions], versions, strict=False):
        change = None
        if before is not None and before.likeness_score is not None and version.likeness_score is not None:
            change = version.likeness_score - before.likeness_score
        compared.append(PortraitVersion(portrait=version, likeness_change=change))
    return compared


def avatar_renders_new(*, avatar: Avatar) -> bool:
    """Whether the pages offer new renders: the check services make before queueing one."""
    return avatar.status == Avatar.Status.READY and avatar.refunded_at is None
