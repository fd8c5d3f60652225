"""Whose avatar it is, and a person's avatars as their pages list them: ownership, counts, covers, the styles that suit them and what a purchase buys."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from avatars.models import Avatar, GpuJob, Photo, Portrait, RenderJob
from portrait_site.core.errors import object_get_or_not_found
from styles.models import StyleTemplate

ACTIVE_JOB_STATUSES = (GpuJob.Status.QUEUED, GpuJob.Status.RUNNING)


def avatar_list_for_user(*, user) -> QuerySet[Avatar]:
    return Avatar.objects.filter(user=user)


def avatar_get_for_user(*, user, public_id) -> Avatar:
    """The user's own avatar, or NotFound: another user's avatar does not exist for them. The one
    owned-avatar lookup: every page and API view asks here."""
    return object_get_or_not_found(avatar_list_for_user(user=user), public_id=public_id)


def photo_get_for_user(*, user, avatar: Avatar, photo_id: int) -> Photo:
    return object_get_or_not_found(Photo.objects.filter(avatar__user=user, avatar=avatar), pk=photo_id)


def portrait_get_for_user(*, user, public_id) -> Portrait:
    return object_get_or_not_found(
        Portrait.objects.select_related("avatar", "template").filter(avatar__user=user), public_id=public_id
    )


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


def avatar_for_style_use(*, user, template: StyleTemplate) -> Avatar | None:
    """The avatar "Use this style" takes a person to: their most recently trained avatar that
    may still render and is offered the style, else their newest avatar still collecting photos."""
    trained = (
        avatar_list_for_user(user=user)
        .filter(status=Avatar.Status.READY, refunded_at__isnull=True)
        .order_by("-trained_at", "-pk")
    )
    for avatar in trained:
        if template_list_for_avatar(avatar=avatar).filter(pk=template.pk).exists():
            return avatar
    return avatar_list_for_user(user=user).filter(status=Avatar.Status.COLLECTING).order_by("-created_at", "-pk").first()
