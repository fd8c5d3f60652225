"""Avatar services: photos in, jobs queued, portraits out, everything deletable."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, FileField, Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from accounts.locale import user_locale_override
from accounts.mail import mail_user
from accounts.notices import notice_create
from accounts.receipt_files import receipt_email_send_to_user
from accounts.receipts import deletion_receipt_create, receipt_counts
from avatars import selectors
from avatars.job_stages import job_stage
from avatars.models import Avatar, GpuUsage, Photo, Portrait, RenderJob, TrainingJob
from avatars.queue import job_enqueue
from portrait_site.errors import ApplicationError
from portrait_site.files import storage_delete_files, storage_empty_folders_delete, storage_walk
from portrait_site.rate_limits import rate_limit_hit, rate_limit_window_left

logger = logging.getLogger(__name__)

class AvatarError(ApplicationError):
    """A request the avatar can't take in its current state; the message is for the user."""

    code = "avatar_state"


class PhotoUploadsThrottled(AvatarError):
    """More photos in the last hour than LIKENESS_PHOTO_UPLOADS_PER_HOUR: each costs the web
    process CPU to check."""

    code = "throttled"
    http_status = 429


PHOTO_UPLOAD_WINDOW_SECONDS = 3600


class OpenAvatarsLimitReached(AvatarError):
    code = "limit_reached"


def avatar_create(*, user, name: str = "", subject_class: str = Avatar.SubjectClass.PERSON) -> Avatar:
    """Start an avatar; a person has at most LIKENESS_MAX_OPEN_AVATARS not yet paid for at once."""
    name = (name or "").strip()[:80] or "My avatar"
    if subject_class not in Avatar.SubjectClass.values:
        raise AvatarError(_("Choose who the avatar is of: a person, a woman or a man."))
    with transaction.atomic():
        # The user's row lock makes two requests at once count each other.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        open_avatars = Avatar.objects.filter(user=user, status=Avatar.Status.COLLECTING).count()
        if open_avatars >= settings.LIKENESS_MAX_OPEN_AVATARS:
            raise OpenAvatarsLimitReached(
                _("You already have %(count)s avatars not yet paid for, the most at once. "
                  "Pay for one or delete one to start another.") % {"count": open_avatars}
            )
        return Avatar.objects.create(user=user, name=name, subject_class=subject_class)


def _intake_limits():
    from avatars.engine.intake import IntakeLimits

    return IntakeLimits(max_bytes=settings.LIKENESS_MAX_UPLOAD_BYTES)


def _known_photos(avatar: Avatar, *, exclude_id: int | None = None):
    from avatars.engine.intake import KnownPhoto

    accepted = avatar.photos.filter(status=Photo.Status.ACCEPTED).exclude(pk=exclude_id)
    return [
        KnownPhoto(key=str(p.pk), perceptual_hash=p.perceptual_hash, embedding=p.embedding)
        for p in accepted.only("pk", "perceptual_hash", "embedding")
    ]


@dataclass(frozen=True)
class PhotoAddOutcome:
    """One uploaded file's fate: its Photo row with a verdict, or why it was not taken at all."""

    name: str
    photo: Photo | None = None
    not_taken: str = ""


def photos_too_many_message() -> str:
    """Why a request carrying more files than Django takes in one POST was refused whole."""
    return _("Too many photos in one go: send at most %(count)s at a time.") % {
        "count": settings.DATA_UPLOAD_MAX_NUMBER_FILES
    }


def photos_add(*, avatar: Avatar, uploaded_files) -> list[PhotoAddOutcome]:
    """Check and keep each uploaded file in turn: the one upload path of the website and the API.

    Raises AvatarError when the avatar takes no photos at all now (paid for, or already full),
    and PhotoUploadsThrottled when the person's hourly budget of photos can't take them all;
    a file that no longer fits once earlier ones were taken gets an outcome that says so.
    """
    _avatar_check_room_for_photos(avatar)
    uploaded_files = list(uploaded_files)
    _photo_upload_budget_take(user_id=avatar.user_id, photos=len(uploaded_files))
    outcomes = []
    for uploaded in uploaded_files:
        name = (getattr(uploaded, "name", "") or "photo")[-255:]
        try:
            outcomes.append(PhotoAddOutcome(name=name, photo=photo_add(avatar=avatar, uploaded_file=uploaded)))
        except AvatarError as refusal:
            outcomes.append(PhotoAddOutcome(name=name, not_taken=refusal.message))
    return outcomes


def _photo_upload_budget_take(*, user_id: int, photos: int) -> None:
    """Count the photos against the person's hourly budget, the one the page and the API share."""
    limit = settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR
    if rate_limit_hit(key=f"photo-uploads:{user_id}", limit=limit, window_seconds=PHOTO_UPLOAD_WINDOW_SECONDS,
                      amount=photos):
        minutes = max(1, round(rate_limit_window_left(window_seconds=PHOTO_UPLOAD_WINDOW_SECONDS) / 60))
        raise PhotoUploadsThrottled(
            _("That is more photos than one person can upload in an hour (%(limit)s). ") % {"limit": limit}
            + ngettext("Try again in %(minutes)s minute.", "Try again in %(minutes)s minutes.", minutes)
            % {"minutes": minutes}
        )


def _avatar_check_room_for_photos(avatar: Avatar) -> None:
    if avatar.status != Avatar.Status.COLLECTING:
        raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
    kept = avatar.photos.exclude(status=Photo.Status.REMOVED).count()
    if kept >= settings.LIKENESS_MAX_PHOTOS:
        raise AvatarError(
            _("This avatar already has %(count)s photos, the most it can take. Remove some to add others.")
            % {"count": kept}
        )


def photo_add(*, avatar: Avatar, uploaded_file) -> Photo:
    """Check one uploaded photo and keep it if it helps the avatar.

    Every upload gets a Photo row with a verdict, so the page can say why a photo
    was refused; photos already accepted are never touched by a bad upload.
    """
    from avatars.engine.intake import check_photo

    original_name = (getattr(uploaded_file, "name", "") or "photo")[-255:]
    with transaction.atomic():
        _avatar_check_room_for_photos(Avatar.objects.select_for_update().get(pk=avatar.pk))

    limits = _intake_limits()
    size = getattr(uploaded_file, "size", None)
    if size is not None and size > limits.max_bytes:
        return Photo.objects.create(
            avatar=avatar, original_name=original_name, status=Photo.Status.REJECTED,
            reason_code="too_large",
            reason_details={"size_mb": size / 1_048_576, "limit_mb": limits.max_bytes / 1_048_576},
        )
    data = uploaded_file.read(limits.max_bytes + 1)
    verdict = check_photo(data, known=_known_photos(avatar), limits=limits)

    photo = Photo(
        avatar=avatar,
        original_name=original_name,
        status=Photo.Status.ACCEPTED if verdict.accepted else Photo.Status.REJECTED,
        reason_code=verdict.reason_code,
        reason_details=verdict.reason_details,
        checks=verdict.checks,
        face_box=verdict.face_box,
        embedding=verdict.embedding,
        perceptual_hash=verdict.perceptual_hash or "",
        width=verdict.width,
        height=verdict.height,
        quality_score=verdict.quality_score,
    )
    # A refused photo keeps no file, not even a duplicate or another person's: sixty copies of
    # one photo would otherwise be sixty files. Only photos accepted once carry one; a refused
    # one keeps a thumbnail in its row, for its card.
    if verdict.accepted and verdict.cleaned_image is not None:
        photo.image.save("photo.jpg", ContentFile(verdict.cleaned_image), save=False)
    elif verdict.cleaned_image is not None:
        photo.refused_thumbnail = _refused_photo_thumbnail(verdict.cleaned_image, face_box=verdict.face_box)
    try:
        with transaction.atomic():
            locked = Avatar.objects.select_for_update().get(pk=avatar.pk)
            if locked.status != Avatar.Status.COLLECTING:
                raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
            photo.save()
            _photo_set_review_identity(locked)
    except Exception:
        if photo.image.name:
            default_storage.delete(photo.image.name)
        raise
    photo.refresh_from_db()
    return photo


# Small enough that a row holds it (about 3 KB), big enough to recognise the photo on its card.
REFUSED_THUMBNAIL_SIZE = 128


def _refused_photo_thumbnail(cleaned_jpeg: bytes, *, face_box) -> bytes:
    """The small square JPEG a refused photo's card shows, around its face when one was found:
    never the photo itself."""
    from io import BytesIO

    from PIL import Image

    from avatars.engine.faces import crop_face

    with Image.open(BytesIO(cleaned_jpeg)) as image:
        thumbnail = crop_face(image.convert("RGB"), face_box, size=REFUSED_THUMBNAIL_SIZE, margin=0.6)
    out = BytesIO()
    thumbnail.save(out, format="JPEG", quality=75)
    return out.getvalue()


def photos_refused_clear(*, avatar: Avatar) -> int:
    """The upload page's "clear these": every refused photo of a set still being collected is
    removed (its thumbnail and any file with it). Returns how many."""
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if avatar.status != Avatar.Status.COLLECTING:
            raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
        refused = list(avatar.photos.select_for_update().filter(status=Photo.Status.REJECTED))
        names = [name for name in (_photo_mark_removed(photo) for photo in refused) if name]
        _photo_set_review_identity(avatar)
        if names:
            transaction.on_commit(lambda: storage_delete_files(names))
    return len(refused)


def _photo_set_review_identity(avatar: Avatar) -> None:
    """Re-judge who the set is of: the majority's person wins, the others are flagged.

    Run after every change to the set, under the avatar's row lock.
    """
    from avatars.engine.intake import find_identity_outliers

    candidates = list(
        avatar.photos.filter(embedding__isnull=False)
        .filter(status__in=[Photo.Status.ACCEPTED, Photo.Status.REJECTED])
        .filter(reason_code__in=["", "different_person"])
        .order_by("created_at", "pk")
    )
    if len(candidates) < 2:
        return
    outliers = set(find_identity_outliers([p.embedding for p in candidates]))
    for index, photo in enumerate(candidates):
        should_be_outlier = index in outliers
        if should_be_outlier and photo.status == Photo.Status.ACCEPTED:
            photo.transition_to(Photo.Status.REJECTED)
            photo.reason_code = "different_person"
            photo.reason_details = {"judged": "set"}  # outvoted by the set, not refused on upload
            photo.save(update_fields=["status", "reason_code", "reason_details"])
        elif not should_be_outlier and photo.reason_code == "different_person" and photo.image:
            photo.transition_to(Photo.Status.ACCEPTED)
            photo.reason_code = ""
            photo.reason_details = {}
            photo.save(update_fields=["status", "reason_code", "reason_details"])


def photo_remove(*, photo: Photo) -> None:
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=photo.avatar_id)
        if avatar.status != Avatar.Status.COLLECTING:
            raise AvatarError(_("This avatar is already paid for: its photo set can't change any more."))
        photo = Photo.objects.select_for_update().get(pk=photo.pk)
        if photo.status == Photo.Status.REMOVED:
            return
        name = _photo_mark_removed(photo)
        _photo_set_review_identity(avatar)
        if name:
            transaction.on_commit(lambda: storage_delete_files([name]))


def _photo_mark_removed(photo: Photo) -> str:
    """Mark the photo removed and forget its embedding; returns its file's name (maybe "") for
    the caller to delete once the transaction commits."""
    name = photo.image.name
    photo.transition_to(Photo.Status.REMOVED)
    photo.image = ""
    photo.refused_thumbnail = b""
    photo.embedding = None
    photo.save(update_fields=["status", "image", "refused_thumbnail", "embedding"])
    return name


def avatars_forget_photos_after_failure(*, now=None) -> int:
    """Delete the photos of avatars whose training failed for good more than
    LIKENESS_FAILED_PHOTOS_KEEP_DAYS ago and that nobody started again; tell their owners."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS)
    forgotten = 0
    for avatar_id in list(selectors.avatar_list_failed_with_photos(failed_before=cutoff).values_list("pk", flat=True)):
        with transaction.atomic():
            avatar = Avatar.objects.select_for_update().select_related("user").get(pk=avatar_id)
            if avatar.status != Avatar.Status.FAILED or avatar.photos_deleted_at is not None:
                continue  # started again, or deleted, since the list was read
            names = [_photo_mark_removed(photo) for photo in avatar.photos.exclude(status=Photo.Status.REMOVED)]
            avatar.photos_deleted_at = now
            avatar.save(update_fields=["photos_deleted_at"])
            notice_create(
                user=avatar.user,
                message=gettext_noop(
                    "We deleted the photos of “%(avatar)s”: its training failed and it was not started "
                    "again within %(days)s days. Upload new ones to try again."
                ),
                params={"avatar": avatar.name, "days": settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS},
            )
            transaction.on_commit(lambda names=[name for name in names if name]: storage_delete_files(names))
        forgotten += 1
    return forgotten


def avatars_forget_unpaid_photos(*, now=None) -> int:
    """Delete the photos, rows and files, of avatars never paid for whose last photo arrived
    more than LIKENESS_UNPAID_PHOTOS_KEEP_DAYS ago; tell their owners. The avatar stays, empty,
    ready for new photos."""
    now = now or timezone.now()
    keep_days = settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS
    cutoff = now - timedelta(days=keep_days)
    forgotten = 0
    for avatar_id in list(selectors.avatar_list_unpaid_with_photos(last_upload_before=cutoff).values_list("pk", flat=True)):
        with transaction.atomic():
            avatar = Avatar.objects.select_for_update().select_related("user").get(pk=avatar_id)
            # Paid for, or given a new photo, since the list was read: the photos stay.
            if not selectors.avatar_list_unpaid_with_photos(last_upload_before=cutoff).filter(pk=avatar.pk).exists():
                continue
            photos = avatar.photos.all()
            names = [name for name in photos.values_list("image", flat=True) if name]
            photos.delete()
            notice_create(
                user=avatar.user,
                message=gettext_noop(
                    "We deleted the photos of “%(name)s”: it was not paid for within %(days)s days of the "
                    "last upload. Upload photos again whenever you like."
                ),
                params={"name": avatar.name, "days": keep_days},
            )
            transaction.on_commit(lambda names=names: storage_delete_files(names))
        forgotten += 1
    return forgotten


def avatar_reopen(*, avatar: Avatar) -> Avatar:
    """After a build failed for good (and was refunded), let the person change the set and pay again."""
    with transaction.atomic():
        locked = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if locked.status != Avatar.Status.FAILED:
            raise AvatarError(_("Only an avatar whose training failed can be started again."))
        locked.transition_to(Avatar.Status.COLLECTING)
        # Photos are collected again: their deletion clock starts anew.
        locked.photos_deleted_at = None
        locked.save(update_fields=["status", "photos_deleted_at"])
    return locked


def avatar_templates_set(*, avatar: Avatar, templates) -> None:
    templates = list(templates)
    if not templates:
        raise AvatarError(_("Pick at least one style."))
    if len(templates) > settings.LIKENESS_MAX_TEMPLATES_PER_ORDER:
        raise AvatarError(_("Pick at most %(count)s styles.") % {"count": settings.LIKENESS_MAX_TEMPLATES_PER_ORDER})
    if any(not t.is_published for t in templates):
        raise AvatarError(_("One of those styles is not available."))
    with transaction.atomic():
        locked = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if locked.status != Avatar.Status.COLLECTING:
            raise AvatarError(_("The styles of a paid avatar are fixed; render more styles from its portraits page."))
        locked.templates.set(templates)


# --- Jobs -----------------------------------------------------------------------


def training_job_create_for_order(*, order) -> TrainingJob:
    """Called by the order fulfilment, inside its transaction, once the payment is confirmed.

    Idempotent: an order has at most one training job, so a webhook delivered twice
    or a reconciliation racing a webhook queues the training once.
    """
    avatar = Avatar.objects.select_for_update().get(pk=order.avatar_id)
    job, created = TrainingJob.objects.get_or_create(
        order=order, defaults={"avatar": avatar, "max_attempts": settings.LIKENESS_JOB_MAX_ATTEMPTS}
    )
    if created:
        if avatar.status != Avatar.Status.PAID:
            avatar.transition_to(Avatar.Status.PAID)
        # A new payment buys a new build, whatever an earlier one's refund ended.
        avatar.refunded_at = None
        avatar.save(update_fields=["status", "refunded_at"])
        _choose_training_photos(avatar)
        job_enqueue(job=job)
    return job


def _choose_training_photos(avatar: Avatar) -> None:
    from avatars.engine.intake import TrainingCandidate, choose_training_photos

    accepted = list(avatar.photos.filter(status=Photo.Status.ACCEPTED))
    chosen = set(
        choose_training_photos(
            [TrainingCandidate(key=str(p.pk), quality_score=p.quality_score or 0.0, embedding=p.embedding)
             for p in accepted],
            limit=settings.LIKENESS_TRAINING_PHOTOS,
        )
    )
    for photo in accepted:
        photo.selected_for_training = str(photo.pk) in chosen
    Photo.objects.bulk_update(accepted, ["selected_for_training"])


def render_job_create(*, avatar: Avatar, template, kind: str = RenderJob.Kind.INITIAL,
                      source_portrait: Portrait | None = None) -> RenderJob:
    """Create a render job and queue it in the caller's transaction."""
    job = RenderJob.objects.create(
        avatar=avatar, template=template, kind=kind, source_portrait=source_portrait,
        max_attempts=settings.LIKENESS_JOB_MAX_ATTEMPTS,
    )
    job_enqueue(job=job)
    return job


def job_retry(*, job: TrainingJob | RenderJob) -> None:
    """An operator's retry of a job that failed for good: a fresh set of attempts."""
    with transaction.atomic():
        job = type(job).objects.select_for_update().get(pk=job.pk)
        if job.status != job.Status.FAILED:
            raise AvatarError(
                _("Only failed jobs can be retried; this one is %(status)s.") % {"status": job.get_status_display().lower()}
            )
        avatar = Avatar.objects.select_for_update().get(pk=job.avatar_id)
        if avatar.refunded_at is not None:
            raise AvatarError(_("This avatar's payment was refunded: the customer has to pay again."))
        if isinstance(job, TrainingJob):
            avatar.transition_to(Avatar.Status.PAID)
            avatar.save(update_fields=["status"])
        elif avatar.status != Avatar.Status.READY:
            raise AvatarError(_("The avatar is not ready, so its portraits can't be rendered."))
        job.transition_to(job.Status.QUEUED)
        job.attempts = 0
        job.stage = job_stage("operator_retry")
        job.progress = 0
        job.save()
        job_enqueue(job=job)


def _avatar_lock_for_new_renders(avatar_id: int, *, not_ready: str = gettext_noop("This avatar isn't ready yet.")) -> Avatar:
    """Lock the avatar and check it may render something new: trained, and not refunded."""
    avatar = Avatar.objects.select_for_update().get(pk=avatar_id)
    if avatar.status != Avatar.Status.READY:
        raise AvatarError(_(not_ready))
    if avatar.refunded_at is not None:
        raise AvatarError(
            _("This avatar's payment was refunded: it keeps the portraits it has, but renders nothing new.")
        )
    return avatar


def portrait_more_like_me(*, portrait: Portrait) -> RenderJob:
    """Render the portrait again with the avatar's pull raised and the template's lowered."""
    return _portrait_render_again(portrait=portrait, kind=RenderJob.Kind.MORE_LIKE_ME)


def portrait_reroll(*, portrait: Portrait) -> RenderJob:
    return _portrait_render_again(portrait=portrait, kind=RenderJob.Kind.REROLL)


def _portrait_render_again(*, portrait: Portrait, kind: str) -> RenderJob:
    with transaction.atomic():
        avatar = _avatar_lock_for_new_renders(
            portrait.avatar_id, not_ready=gettext_noop("This avatar can't render any more: it is no longer ready.")
        )
        _allowance_check(avatar, renders=1)
        return render_job_create(avatar=avatar, template=portrait.template, kind=kind, source_portrait=portrait)


def avatar_render_more(*, avatar: Avatar, templates) -> list[RenderJob]:
    templates = [t for t in templates if t.is_published]
    if not templates:
        raise AvatarError(_("Pick at least one style."))
    with transaction.atomic():
        locked = _avatar_lock_for_new_renders(avatar.pk)
        _allowance_check(locked, renders=len(templates))
        return [render_job_create(avatar=locked, template=t, kind=RenderJob.Kind.EXTRA) for t in templates]


def _allowance_check(avatar: Avatar, *, renders: int) -> None:
    """Refuse what the purchase's extra renders no longer cover. The caller holds the avatar's
    row lock, so two clicks at once can't both take the last one."""
    allowance = selectors.avatar_render_allowance(avatar=avatar)
    if renders <= allowance.left:
        return
    if allowance.left == 0:
        raise AvatarError(
            _("You have used all %(count)s extra renders this avatar came with. "
              "Your portraits stay yours to view and download.") % {"count": allowance.allowed}
        )
    raise AvatarError(
        _("You have %(count)s extra render(s) left: pick at most %(count)s style(s).") % {"count": allowance.left}
    )


def template_preview_render(*, template, by) -> RenderJob:
    """An operator's preview of a template on their own most recently trained avatar."""
    if not by.is_staff:
        raise AvatarError(_("Only staff can preview templates."))
    avatar = Avatar.objects.filter(user=by, status=Avatar.Status.READY).order_by("-trained_at", "-pk").first()
    if avatar is None:
        raise AvatarError(_("A preview renders on your own avatar: train one on this staff account first."))
    with transaction.atomic():
        return render_job_create(avatar=avatar, template=template, kind=RenderJob.Kind.PREVIEW)


def avatar_refund_record(*, avatar_id: int, refunded: bool) -> None:
    """The payment for the avatar's current build is being given back (or, when Stripe refused the
    refund, is not): a refunded avatar keeps its finished portraits and renders nothing new.
    Called by orders, inside its refund transaction."""
    Avatar.objects.filter(pk=avatar_id).update(refunded_at=timezone.now() if refunded else None)


@dataclass(frozen=True)
class RenderPlan:
    """What a render job renders with: the engine's render() arguments and the seed."""

    parameters: dict
    seed: int


def render_job_plan(*, job: RenderJob) -> RenderPlan:
    """The template's parameters, or for "more like me" the source portrait's, moved toward the avatar."""
    from avatars.engine.rendering import more_like_me_parameters

    template = job.template
    source = job.source_portrait
    if job.kind == RenderJob.Kind.MORE_LIKE_ME and source is not None:
        return RenderPlan(parameters=more_like_me_parameters(source.parameters), seed=source.seed)
    parameters = {
        "prompt": template.prompt,
        "negative_prompt": template.negative_prompt,
        "strength": template.img2img_strength,
        "guidance_scale": template.guidance_scale,
        "steps": template.steps,
        "width": template.width,
        "height": template.height,
        "lora_scale": 1.0,
        "beauty": round(template.beauty_weight / max(template.likeness_weight + template.beauty_weight, 1e-6), 3),
        "use_reference": bool(template.reference_image),
        "face_strength": template.face_strength,
        "output_long_side": template.output_long_side,
        "hires_strength": template.hires_strength,
    }
    if template.seed_policy == template.SeedPolicy.FIXED and job.kind == RenderJob.Kind.INITIAL:
        return RenderPlan(parameters=parameters, seed=template.seed)
    return RenderPlan(parameters=parameters, seed=secrets.randbelow(2**31))


@dataclass(frozen=True)
class RenderedPortrait:
    """One finished render as the worker hands it over: full size, the web-sized copy the pages
    show, and how it was made."""

    png_bytes: bytes
    web_png_bytes: bytes
    seed: int
    likeness: float | None
    parameters: dict
    width: int
    height: int


# The take each kind of render job makes; a job of any other kind (first portraits, more
# styles, an operator's preview) makes originals.
TAKE_OF_JOB_KIND = {
    RenderJob.Kind.REROLL: Portrait.Take.REROLL,
    RenderJob.Kind.MORE_LIKE_ME: Portrait.Take.MORE_LIKE_ME,
}


def portraits_create_for_job(*, job: RenderJob, renders: list[RenderedPortrait], engine_label: str) -> list[Portrait]:
    """Store a job's finished renders as its portraits, each numbered in its take for the style
    ("original 1" is the closest of the first portraits). The caller holds the job's row lock
    (it is the job's own running attempt) and marks the job done in the same transaction."""
    chain_parent = job.source_portrait if job.kind == RenderJob.Kind.MORE_LIKE_ME else None
    take = TAKE_OF_JOB_KIND.get(job.kind, Portrait.Take.ORIGINAL)
    numbered_before = Portrait.objects.filter(avatar_id=job.avatar_id, template=job.template, take=take).aggregate(
        last=Max("take_number")
    )["last"] or 0
    closest_first = sorted(renders, key=lambda render: -1 if render.likeness is None else render.likeness, reverse=True)
    portraits = []
    for number, render in enumerate(closest_first, start=numbered_before + 1):
        portrait = Portrait(
            avatar_id=job.avatar_id, template=job.template, render_job=job, seed=render.seed,
            likeness_score=render.likeness, parameters=render.parameters, more_like_me_of=chain_parent,
            version=(chain_parent.version + 1) if chain_parent else 1, take=take, take_number=number,
            width=render.width, height=render.height, engine_label=engine_label,
        )
        portrait.image.save("portrait.png", ContentFile(render.png_bytes), save=False)
        portrait.web_image.save("portrait-web.png", ContentFile(render.web_png_bytes), save=False)
        portrait.save()
        portraits.append(portrait)
    if job.kind == RenderJob.Kind.INITIAL and not selectors.avatar_has_initial_renders_waiting(
        avatar_id=job.avatar_id, other_than=job.pk
    ):
        _portraits_ready_notify(avatar=job.avatar)
    return portraits


def portrait_favourite_set(*, portrait: Portrait, is_favourite: bool) -> None:
    Portrait.objects.filter(pk=portrait.pk).update(is_favourite=is_favourite)


def more_like_me_found_nothing_closer(*, job: RenderJob) -> None:
    """A "more like me" click whose new version did not look more like the person than the one
    it came from: nothing is kept, the click is not counted, and the customer is told. The
    caller holds the job's row lock."""
    job.counts_against_allowance = False
    source = job.source_portrait
    # The sentence is worded when read; the style's name is the one in the owner's language.
    with user_locale_override(user=job.avatar.user):
        template_title = job.template.display_title
    notice_create(
        user=job.avatar.user,
        message=gettext_noop(
            "“More like me” on your %(template)s portrait found no version closer to you than "
            "the one you have (likeness %(likeness)s), so we kept yours. It did not use one of "
            "your extra renders."
        ),
        params={"template": template_title, "likeness": f"{source.likeness_score:.0f}"},
        link=f"/avatars/portraits/{source.public_id}/",
    )


def _portraits_ready_notify(*, avatar: Avatar) -> None:
    user = avatar.user
    link = f"{settings.SITE_URL}/avatars/{avatar.public_id}/"
    transaction.on_commit(lambda: mail_user(
        user=user,
        subject_template="avatars/portraits_ready_email_subject.txt",
        body_template="avatars/portraits_ready_email.txt",
        context={"avatar": avatar, "link": link},
    ))


def portrait_download_record(*, portrait: Portrait) -> None:
    Portrait.objects.filter(pk=portrait.pk).update(download_count=F("download_count") + 1)


# --- Deletion -------------------------------------------------------------------


def portrait_delete(*, portrait: Portrait) -> dict:
    with transaction.atomic():
        portrait = Portrait.objects.select_for_update().get(pk=portrait.pk)
        names = portrait.stored_file_names
        Portrait.objects.filter(more_like_me_of=portrait).update(more_like_me_of=portrait.more_like_me_of)
        portrait.delete()
        transaction.on_commit(lambda: storage_delete_files(names))
    return {"portraits": 1, "photos": 0, "lora_files": 0, "files": names}


def photos_delete_files(*, avatar: Avatar) -> list[str]:
    """Delete the avatar's uploaded photos from storage, keeping the verdict rows (no files, no embeddings)."""
    photos = list(avatar.photos.exclude(image=""))
    names = [p.image.name for p in photos]
    avatar.photos.update(image="", refused_thumbnail=b"", embedding=None)
    transaction.on_commit(lambda: storage_delete_files(names))
    return names


def avatar_delete(*, avatar: Avatar) -> dict:
    """Delete an avatar with its photos, LoRA file and portraits. Orders stay (bookkeeping)."""
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=avatar.pk)
        for job in [*avatar.training_jobs.filter(status__in=selectors.ACTIVE_JOB_STATUSES),
                    *avatar.render_jobs.filter(status__in=selectors.ACTIVE_JOB_STATUSES)]:
            job.transition_to(job.Status.CANCELLED)
            job.save(update_fields=["status"])
        portraits = list(avatar.portraits.all())
        portrait_names = [name for portrait in portraits for name in portrait.stored_file_names]
        photo_names = [p.image.name for p in avatar.photos.exclude(image="")]
        photo_count = avatar.photos.count()
        lora_names = [avatar.lora_file.name] if avatar.lora_file else []
        summary = {
            "avatars": 1,
            "photos": photo_count,
            "portraits": len(portraits),
            "lora_files": len(lora_names),
            "files": portrait_names + photo_names + lora_names,
        }
        avatar.orders.update(avatar=None)
        avatar.delete()
        transaction.on_commit(lambda: storage_delete_files(summary["files"]))
    return summary


def avatar_delete_with_receipt(*, user, avatar: Avatar):
    """Delete one of the user's avatars (photos, LoRA file, portraits) and write what went."""
    with transaction.atomic():
        name = avatar.name
        removed = receipt_counts(avatar_delete(avatar=avatar))
        removed["avatar_names"] = [name]
        return deletion_receipt_create(email=user.email, scope="avatar", removed=removed)


def portrait_delete_with_receipt(*, user, portrait: Portrait):
    with transaction.atomic():
        removed = receipt_counts(portrait_delete(portrait=portrait))
        return deletion_receipt_create(email=user.email, scope="portrait", removed=removed)


def avatar_delete_by_operator(*, avatar: Avatar):
    """The admin's deletion of an avatar: the person's own deletion, its receipt mailed to them,
    since they were not there to see it."""
    with transaction.atomic():
        user = avatar.user
        receipt = avatar_delete_with_receipt(user=user, avatar=avatar)
        transaction.on_commit(lambda: receipt_email_send_to_user(receipt=receipt, user=user))
    return receipt


def portrait_delete_by_operator(*, portrait: Portrait):
    with transaction.atomic():
        user = portrait.avatar.user
        receipt = portrait_delete_with_receipt(user=user, portrait=portrait)
        transaction.on_commit(lambda: receipt_email_send_to_user(receipt=receipt, user=user))
    return receipt


def photo_delete_by_operator(*, photo: Photo) -> list[str]:
    """Delete an uploaded photo's row and its file (the admin). The person's own removal,
    photo_remove, keeps the row as the set's history while the set is collected."""
    with transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo.pk)
        names = [photo.image.name] if photo.image else []
        photo.delete()
        transaction.on_commit(lambda: storage_delete_files(names))
    return names


def media_names_referenced() -> set[str]:
    """Every stored file name a row points to: each FileField and ImageField of every model
    (photos, LoRA files, both files of a portrait, style pictures, reference images). Receipts
    and exports are made on the fly and never stored."""
    names = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, FileField):
                names.update(model._base_manager.exclude(**{field.attname: ""}).values_list(field.attname, flat=True))
    names.discard(None)
    return names


def media_orphans_delete(*, now=None, dry_run: bool = False) -> list[str]:
    """Delete the stored files no row points to (a deletion that failed half-way, a row deleted
    around its services) and return their names.

    A file younger than settings.LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS is never touched: an upload
    or a render writes its file before the row that names it commits. On local storage, folders
    left empty as long are deleted too, and listed with a trailing "/". `dry_run` lists the files only.
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS)
    listed = list(storage_walk())
    # Read after the listing: a row that committed while the listing ran still saves its file.
    referenced = media_names_referenced()
    orphans = []
    for name in listed:
        if name in referenced:
            continue
        try:
            modified = default_storage.get_modified_time(name)
        except FileNotFoundError:
            continue
        if modified < cutoff:
            orphans.append(name)
    if dry_run:
        return orphans
    failed = set(storage_delete_files(orphans))
    removed = [name for name in orphans if name not in failed]
    removed += storage_empty_folders_delete(untouched_since=cutoff)
    if removed:
        logger.info("The orphan sweep deleted %d stored files and empty folders no row pointed to", len(removed))
    return removed


def avatar_mark_trained(*, avatar: Avatar, lora_bytes: bytes, centroid: list[float], engine_label: str,
                        engine_family: str) -> None:
    """Store the trained LoRA and forget the photos: they served their one purpose."""
    avatar.lora_file.save("avatar.safetensors", ContentFile(lora_bytes), save=False)
    avatar.embedding_centroid = centroid
    avatar.engine_label = engine_label
    avatar.engine_family = engine_family
    avatar.transition_to(Avatar.Status.READY)
    avatar.trained_at = timezone.now()
    photos_delete_files(avatar=avatar)
    avatar.photos_deleted_at = timezone.now()
    avatar.save(update_fields=["lora_file", "embedding_centroid", "engine_label", "engine_family", "status", "trained_at",
                               "photos_deleted_at"])


# --- The operator's figures ---------------------------------------------------------------


def gpu_usage_record(*, job: TrainingJob | RenderJob) -> GpuUsage:
    """Write down a finished job's GPU time (and a render's likeness) with no link to its person,
    in the caller's transaction: job_mark_succeeded holds the job's row lock."""
    likeness = None
    if isinstance(job, RenderJob):
        kind, template_id = job.kind, job.template_id
        # A style's first render keeps several portraits: its figure is the closest one's.
        likeness = Portrait.objects.filter(render_job=job).aggregate(best=Max("likeness_score"))["best"]
    else:
        kind, template_id = GpuUsage.Kind.TRAINING, None
    finished_at = job.finished_at or timezone.now()
    return GpuUsage.objects.create(
        kind=kind, template_id=template_id, likeness_score=likeness, gpu_seconds=job.gpu_seconds,
        day=timezone.localdate(finished_at), finished_at=finished_at,
    )
