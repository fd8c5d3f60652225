"""Avatar reads: what the pages and the API show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from accounts.notices import stored_sentence_words
from avatars.gpu.estimates import QueueEstimates, gpu_queue_estimates
from avatars.job_stages import job_stage_words
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


def avatar_list_unpaid_with_photos(*, last_upload_before: datetime) -> QuerySet[Avatar]:
    """Avatars never paid for (still collecting, never trained) whose last kept photo arrived
    before `last_upload_before`."""
    return (
        Avatar.objects.filter(status=Avatar.Status.COLLECTING)
        .exclude(Exists(TrainingJob.objects.filter(avatar=OuterRef("pk"))))
        .annotate(last_upload_at=Max("photos__created_at", filter=~Q(photos__status=Photo.Status.REMOVED)))
        .filter(last_upload_at__lt=last_upload_before)
        .order_by("last_upload_at")
    )


def avatar_unpaid_photos_kept_until(*, avatar: Avatar) -> datetime | None:
    """When the photos of an avatar never paid for will be deleted if it stays unpaid:
    LIKENESS_UNPAID_PHOTOS_KEEP_DAYS after the last one arrived."""
    if avatar.status != Avatar.Status.COLLECTING or avatar.training_jobs.exists():
        return None
    last_upload_at = avatar.photos.exclude(status=Photo.Status.REMOVED).aggregate(at=Max("created_at"))["at"]
    if last_upload_at is None:
        return None
    return last_upload_at + timedelta(days=settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS)


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


def engine_label_words(label: str) -> str:
    """The engine's name for a page, in the reader's language: the stored label is the engine's
    own English (the API and the files carry it as is), a model's name needs no translation."""
    if engine_label_is_test_output(label):
        return _("tiny engine: not a real model")
    return label


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
    wait_seconds: int | None  # until a GPU worker takes it (waiting jobs), when there is a basis
    eta_seconds: int | None


def _seconds_shown(seconds: float) -> int:
    """A wait about as precise as the page words it (to a tenth or better: whole seconds under
    10 s, 5 s steps under a minute and a half, half minutes under ten, then whole minutes): an
    answer stays the same, and a poll gets its 304, until the words would change."""
    step = 1 if seconds < 10 else 5 if seconds < 90 else 30 if seconds < 600 else 60
    return int(round(seconds / step) * step)


def _eta(job, estimates: QueueEstimates | None, kind: str) -> tuple[int | None, int | None]:
    """(seconds until a worker takes the job, seconds until it is done): the rest of it when
    running; when waiting, its place in the queue played forward, then the job itself. None
    where there is no basis for a number."""
    if estimates is None:
        return None, None
    if job.status == GpuJob.Status.RUNNING:
        remaining = estimates.remaining_seconds(kind=kind, table=job.table, job_id=job.pk, progress=job.progress)
        return None, None if remaining is None else _seconds_shown(remaining)
    wait = estimates.wait_for(job.table, job.pk)
    if wait is None or wait.start_seconds is None:
        return None, None
    start = _seconds_shown(wait.start_seconds)
    return start, None if wait.own_seconds is None else _seconds_shown(wait.start_seconds + wait.own_seconds)


def _queue_position(estimates: QueueEstimates | None, job) -> int | None:
    if estimates is None or job.status != GpuJob.Status.QUEUED:
        return None
    wait = estimates.wait_for(job.table, job.pk)
    return wait.ahead if wait is not None else None


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
    failure_reason: str

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
        .annotate(table=Value("render"), template_title=F("template__title"), failure_reason=Value(""))
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
    estimates = gpu_queue_estimates() if any(job.is_active for job in shown) else None
    jobs: list[JobProgress] = []
    if training is not None:
        wait, eta = _eta(training, estimates, "training") if training.is_active else (None, None)
        jobs.append(JobProgress(
            kind="training", label=_("Training your avatar"), status=training.status,
            stage=job_stage_words(training.stage),
            progress=training.progress,
            queue_position=_queue_position(estimates, training),
            wait_seconds=wait, eta_seconds=eta,
        ))
    for job in renders:
        wait, eta = _eta(job, estimates, job.kind) if job.is_active else (None, None)
        jobs.append(JobProgress(
            kind="render", status=job.status, stage=job_stage_words(job.stage), progress=job.progress,
            label=_("%(kind)s: %(template)s") % {"kind": RenderJob.Kind(job.kind).label, "template": job.template_title},
            queue_position=_queue_position(estimates, job), wait_seconds=wait, eta_seconds=eta,
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
        "failure_reason": training_failure_words(job_id=training.pk)
        if avatar.status == Avatar.Status.FAILED and training is not None else "",
        "portrait_count": avatar.portraits.count(),
        "jobs": [j.__dict__ for j in jobs],
        # No number unless every job still to finish has one.
        "eta_seconds": (
            max(j.eta_seconds for j in active) or None
            if active and all(j.eta_seconds is not None for j in active) else None
        ),
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


# --- What a purchase buys --------------------------------------------------------------

EXTRA_RENDER_KINDS = (RenderJob.Kind.REROLL, RenderJob.Kind.MORE_LIKE_ME, RenderJob.Kind.EXTRA)


@dataclass(frozen=True)
class RenderAllowance:
    allowed: int
    used: int

    @property
    def left(self) -> int:
        return max(0, self.allowed - self.used)


def avatar_render_allowance(*, avatar: Avatar) -> RenderAllowance:
    """The extra renders the avatar's purchase buys, and how many are used: queued, running or
    done re-rolls, "more like me" clicks and more styles that count."""
    used = avatar.render_jobs.filter(
        kind__in=EXTRA_RENDER_KINDS, counts_against_allowance=True
    ).exclude(status__in=[GpuJob.Status.FAILED, GpuJob.Status.CANCELLED]).count()
    return RenderAllowance(allowed=settings.LIKENESS_EXTRA_RENDERS, used=used)


# --- The fair GPU queue ------------------------------------------------------------------

# Work that makes a person's avatar comes before work that adds to one they have.
QUEUE_CLASS_TRAINING, QUEUE_CLASS_FIRST_PORTRAITS, QUEUE_CLASS_MORE = 0, 1, 2


@dataclass(frozen=True)
class QueuedJob:
    model: type
    job_id: int
    user_id: int
    queue_class: int
    queued_at: datetime


def gpu_queue_order() -> list[QueuedJob]:
    """Every waiting GPU job in the order the workers take them.

    Training first, then first portraits, then everything else; within each, people take
    turns: the person served least recently goes next, with their oldest job. So one
    person's re-rolls never hold another person's training or first portraits back by more
    than the job already running, and two people re-rolling alternate.
    """
    waiting = [
        QueuedJob(TrainingJob, pk, user_id, QUEUE_CLASS_TRAINING, queued_at)
        for pk, user_id, queued_at in TrainingJob.objects.filter(status=GpuJob.Status.QUEUED).values_list(
            "pk", "avatar__user_id", "queued_at"
        )
    ] + [
        QueuedJob(
            RenderJob, pk, user_id,
            QUEUE_CLASS_FIRST_PORTRAITS if kind == RenderJob.Kind.INITIAL else QUEUE_CLASS_MORE, queued_at,
        )
        for pk, user_id, kind, queued_at in RenderJob.objects.filter(status=GpuJob.Status.QUEUED).values_list(
            "pk", "avatar__user_id", "kind", "queued_at"
        )
    ]
    if not waiting:
        return []
    last_served = _last_served({job.user_id for job in waiting})
    # Sorted once by class and age; each pick then takes, in the first class still waiting,
    # the job of the person served longest ago (never served: first), oldest job first.
    waiting.sort(key=lambda job: (job.queue_class, job.queued_at, job.job_id))
    order, turn = [], 0
    while waiting:
        queue_class = waiting[0].queue_class
        candidates = [job for job in waiting if job.queue_class == queue_class]
        chosen = min(candidates, key=lambda job: (last_served.get(job.user_id, NEVER_SERVED), job.queued_at, job.job_id))
        order.append(chosen)
        waiting.remove(chosen)
        turn += 1
        last_served[chosen.user_id] = turn
    return order


NEVER_SERVED = float("-inf")


def _last_served(user_ids: set[int]) -> dict[int, float]:
    """For each person served before, a rank of when a GPU job of theirs last started: lower is
    longer ago, and all of them below the picks gpu_queue_order counts up from 1."""
    started: dict[int, datetime] = {}
    for model in (TrainingJob, RenderJob):
        rows = (
            model.objects.filter(avatar__user_id__in=user_ids, started_at__isnull=False)
            .values("avatar__user_id")
            .annotate(last=Max("started_at"))
            .values_list("avatar__user_id", "last")
        )
        for user_id, last in rows:
            started[user_id] = max(last, started.get(user_id, last))
    by_time = sorted(started, key=started.get)
    return {user_id: rank - len(by_time) for rank, user_id in enumerate(by_time)}


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
    chunks += _png_text_chunk("Title", f"{portrait.template.display_title}, version {portrait.version}")
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
