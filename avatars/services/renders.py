"""Portraits out: render jobs queued within the allowance, planned, and their portraits saved."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.locale import user_locale_override
from accounts.mail import mail_user
from accounts.notices import notice_create
from avatars import selectors
from avatars.gpu.queue import job_enqueue
from avatars.models import Avatar, Portrait, RenderJob
from avatars.services.avatars import AvatarError


def render_job_create(*, avatar: Avatar, template, kind: str = RenderJob.Kind.INITIAL,
                      source_portrait: Portrait | None = None) -> RenderJob:
    """Create a render job and queue it in the caller's transaction."""
    job = RenderJob.objects.create(
        avatar=avatar, template=template, kind=kind, source_portrait=source_portrait,
        max_attempts=settings.LIKENESS_JOB_MAX_ATTEMPTS,
    )
    job_enqueue(job=job)
    return job


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


@dataclass(frozen=True)
class RenderPlan:
    """What a render job renders with: the engine's render() arguments and the seed."""

    parameters: dict
    seed: int


def render_family(avatar):
    """The model family the avatar's portraits render in: the one its LoRA was trained for, or
    for an avatar from before families were recorded, the configured one."""
    from avatars.engine.families import family
    from avatars.engine.prompts import prompt_family
    from avatars.gpu.engine_config import render_engine_spec

    return family(avatar.engine_family) if avatar.engine_family else prompt_family(render_engine_spec())


def render_job_plan(*, job: RenderJob) -> RenderPlan:
    """The template's parameters, or for "more like me" the source portrait's, moved toward the avatar."""
    from avatars.engine.more_like_me import more_like_me_parameters

    template = job.template
    source = job.source_portrait
    if job.kind == RenderJob.Kind.MORE_LIKE_ME and source is not None:
        return RenderPlan(parameters=more_like_me_parameters(source.parameters), seed=source.seed)
    prompt, negative_prompt = template.wording_for(render_family(job.avatar))
    parameters = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
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
    it came from: nothing is kept and the customer is told. The first such click on a portrait is
    free (settings.LIKENESS_MORE_LIKE_ME_FREE_RETRIES per portrait) and gives its render back;
    later ones count, so one purchase renders at most its extra renders plus the free retries of
    the portraits it has. The caller holds the job's row lock."""
    source = Portrait.objects.select_for_update().get(pk=job.source_portrait_id)
    free_retries_used = RenderJob.objects.filter(
        source_portrait=source, kind=RenderJob.Kind.MORE_LIKE_ME, counts_against_allowance=False
    ).exclude(pk=job.pk).count()
    job.counts_against_allowance = free_retries_used >= settings.LIKENESS_MORE_LIKE_ME_FREE_RETRIES
    # The sentence is worded when read; the style's name is the one in the owner's language.
    with user_locale_override(user=job.avatar.user):
        template_title = job.template.display_title
    if job.counts_against_allowance:
        message = gettext_noop(
            "“More like me” on your %(template)s portrait found no version closer to you than "
            "the one you have (likeness %(likeness)s), so we kept yours. Its free retry was used "
            "already, so this one used one of your extra renders."
        )
    else:
        message = gettext_noop(
            "“More like me” on your %(template)s portrait found no version closer to you than "
            "the one you have (likeness %(likeness)s), so we kept yours. It did not use one of "
            "your extra renders."
        )
    notice_create(
        user=job.avatar.user,
        message=message,
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
