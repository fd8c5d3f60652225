"""Template requests: a proposed style checked and filed with its author's vote, then planned, declined, made a draft or deleted."""

import io
import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from portrait_site.core.errors import ApplicationError
from portrait_site.core.files import storage_delete_files
from styles.models import StyleTemplate, TemplateRequest, TemplateVote
from styles.selectors import template_request_list_changed
from styles.services.templates import CurationRefused

logger = logging.getLogger(__name__)

TITLE_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 2000
REFERENCE_IMAGE_MAX_BYTES = 5 * 1024 * 1024
REFERENCE_IMAGE_MAX_SIDE = 4096
REFERENCE_IMAGE_FORMATS = {"JPEG", "PNG", "WEBP"}

DRAFT_PROMPT = (
    "a realistic photo portrait of {identity}, {look}, natural skin texture with visible pores, "
    "85mm lens, f/2, soft natural light, shot on Kodak Portra 400, subtle film grain"
)
DRAFT_NEGATIVE_PROMPT = (
    "plastic skin, airbrushed, cgi, 3d render, cartoon, doll, oversmoothed, deformed, "
    "extra fingers, watermark, text"
)


class DuplicateTemplateRequest(ApplicationError):
    """An open or planned request already asks for this style: vote for it instead."""

    code = "duplicate"

    def __init__(self, existing: TemplateRequest):
        self.existing = existing
        message = _("“%(title)s” has already been requested. Vote for it instead?") % {"title": existing.title}
        super().__init__(message, fields={"title": [message]})


class TemplateRequestLimitReached(ApplicationError):
    """The author proposed LIKENESS_TEMPLATE_REQUESTS_PER_DAY styles in the last 24 hours."""

    code = "limit_reached"
    http_status = 429


def _clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError(_("Give the style a title."))
    if len(title) > TITLE_MAX_LENGTH:
        raise ValidationError(
            _("Keep the title to %(limit)s characters (this one has %(count)s).") % {"limit": TITLE_MAX_LENGTH, "count": len(title)}
        )
    return title


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            _("Keep the description to %(limit)s characters (this one has %(count)s).")
            % {"limit": DESCRIPTION_MAX_LENGTH, "count": len(description)}
        )
    return description


def _nudity_verdict(image: Image.Image):
    # The engine loads an ONNX model: import it only when an image needs checking.
    from avatars.engine.safety import nudity_verdict

    return nudity_verdict(image)


def _clean_reference_image(upload) -> ContentFile:
    """Check an uploaded reference image and return it re-encoded as PNG, without its metadata."""
    if upload.size > REFERENCE_IMAGE_MAX_BYTES:
        raise ValidationError(
            _("The reference image is larger than %(size)s MB.") % {"size": REFERENCE_IMAGE_MAX_BYTES // (1024 * 1024)}
        )
    upload.seek(0)
    data = upload.read()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            probe.verify()
        if image_format not in REFERENCE_IMAGE_FORMATS:
            raise ValidationError(_("The reference image must be a JPEG, PNG or WebP photo."))
        image = Image.open(io.BytesIO(data))
        if max(image.size) > REFERENCE_IMAGE_MAX_SIDE:
            raise ValidationError(
                _("The reference image is larger than %(side)s pixels on a side.") % {"side": REFERENCE_IMAGE_MAX_SIDE}
            )
        image = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValidationError(_("The reference image could not be read as a picture.")) from error
    verdict = _nudity_verdict(image)
    if not verdict.is_safe:
        raise ValidationError(_("The reference image was refused: it looks like explicit content."))
    encoded = io.BytesIO()
    # A fresh PNG carries no EXIF: no camera, place or time from the original file.
    image.save(encoded, format="PNG", optimize=True)
    return ContentFile(encoded.getvalue(), name="reference.png")


def _template_request_check_daily_limit(*, author) -> None:
    limit = settings.LIKENESS_TEMPLATE_REQUESTS_PER_DAY
    since = timezone.now() - timedelta(days=1)
    if TemplateRequest.objects.filter(author=author, created_at__gte=since).count() >= limit:
        raise TemplateRequestLimitReached(
            _("You have proposed %(limit)s styles in the last 24 hours, the most in a day. "
              "Vote for others meanwhile, and propose this one tomorrow.") % {"limit": limit}
        )


def template_request_create(
    *, author, title: str, description: str = "", reference_image=None
) -> TemplateRequest:
    """Propose a style. The author's own vote is cast with it.

    Raises ValidationError with a message for the person, DuplicateTemplateRequest
    (carrying `existing`) when an open or planned request asks for it, or
    TemplateRequestLimitReached past LIKENESS_TEMPLATE_REQUESTS_PER_DAY.
    """
    title = _clean_title(title)
    description = _clean_description(description)
    title_key = TemplateRequest.title_key_for(title)
    live = (TemplateRequest.Status.OPEN, TemplateRequest.Status.PLANNED)
    existing = TemplateRequest.objects.filter(title_key=title_key, status__in=live).first()
    if existing is not None:
        raise DuplicateTemplateRequest(existing)
    _template_request_check_daily_limit(author=author)
    image_file = _clean_reference_image(reference_image) if reference_image else None
    try:
        with transaction.atomic():
            # Again under the author's row lock, so requests sent at once count each other.
            get_user_model().objects.select_for_update().filter(pk=author.pk).first()
            _template_request_check_daily_limit(author=author)
            request = TemplateRequest(author=author, title=title, title_key=title_key, description=description)
            if image_file is not None:
                request.reference_image.save(image_file.name, image_file, save=False)
            request.save()
            TemplateVote.objects.create(user=author, request=request)
            transaction.on_commit(template_request_list_changed)
    except IntegrityError:
        # Someone filed the same title between the check and the insert.
        if image_file is not None and request.reference_image:
            request.reference_image.delete(save=False)
        existing = TemplateRequest.objects.filter(title_key=title_key, status__in=live).first()
        if existing is None:
            raise
        raise DuplicateTemplateRequest(existing) from None
    return request


def _request_transition(*, request: TemplateRequest, status: str) -> TemplateRequest:
    with transaction.atomic():
        locked = TemplateRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status == status:
            return locked
        if not locked.can_transition_to(status):
            raise CurationRefused(
                _("“%(title)s” is %(status)s; it cannot become %(new_status)s.")
                % {"title": locked.title, "status": locked.get_status_display().lower(), "new_status": status}
            )
        locked.transition_to(status)
        locked.save(update_fields=["status"])
        transaction.on_commit(template_request_list_changed)
        return locked


def template_request_plan(*, request: TemplateRequest) -> TemplateRequest:
    return _request_transition(request=request, status=TemplateRequest.Status.PLANNED)


def template_request_decline(*, request: TemplateRequest) -> TemplateRequest:
    return _request_transition(request=request, status=TemplateRequest.Status.DECLINED)


def _unique_slug(title: str) -> str:
    base = (slugify(title) or "style")[:70].strip("-") or "style"
    slug, suffix = base, 2
    while StyleTemplate.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


def template_request_to_template(*, request: TemplateRequest, by) -> StyleTemplate:
    """Start an unpublished draft template from a request; the request becomes planned.

    Running it again on the same request returns the draft it already has.
    """
    with transaction.atomic():
        locked = TemplateRequest.objects.select_for_update().get(pk=request.pk)
        if locked.template_id is not None:
            return locked.template
        if not locked.accepts_votes:
            raise CurationRefused(
                _("“%(title)s” is %(status)s: reopen it first.") % {"title": locked.title, "status": locked.get_status_display().lower()}
            )
        # The requester's words describe the look better than its title alone; braces would
        # read as placeholders in a prompt.
        words = f"{locked.title}, {' '.join(locked.description.split()[:40])}" if locked.description else locked.title
        look = words.replace("{", "").replace("}", "").lower().rstrip(" .,")
        template = StyleTemplate(
            slug=_unique_slug(locked.title),
            title=locked.title,
            description=locked.description,
            category=locked.category or StyleTemplate._meta.get_field("category").default,
            prompt=DRAFT_PROMPT.replace("{look}", look),
            negative_prompt=DRAFT_NEGATIVE_PROMPT,
            is_published=False,
        )
        if locked.reference_image:
            # A copy: the request's picture goes when the request is deleted, the draft's with the draft.
            with locked.reference_image.open("rb") as picture:
                template.reference_image.save("reference.png", ContentFile(picture.read()), save=False)
        template.save()
        locked.template = template
        if locked.status == TemplateRequest.Status.OPEN:
            locked.transition_to(TemplateRequest.Status.PLANNED)
        locked.save(update_fields=["template", "status"])
        transaction.on_commit(template_request_list_changed)
        logger.info("Template request %s turned into draft template %s by %s", locked.pk, template.slug, by)
        return template


def template_request_delete(*, request: TemplateRequest) -> None:
    """Delete a request with its votes and its reference image, which may show its author."""
    with transaction.atomic():
        locked = TemplateRequest.objects.select_for_update().get(pk=request.pk)
        names = [locked.reference_image.name] if locked.reference_image else []
        locked.delete()
        transaction.on_commit(lambda: storage_delete_files(names))
        transaction.on_commit(template_request_list_changed)
