"""An avatar's portraits: their lists, download names, versions and which engine made them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    F,
    QuerySet,
)
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from avatars.models import Avatar, Portrait


def portrait_list_for_avatar(*, avatar: Avatar) -> QuerySet[Portrait]:
    """The avatar's portraits, each style's together, the closest to the person first (unmeasured
    ones last, in the order they were made)."""
    return avatar.portraits.select_related("template").order_by(
        "template__sort_order", "template_id", F("likeness_score").desc(nulls_last=True), "created_at", "take_number"
    )


# A take's words in file names: the same in every language, so a file name is plain ASCII.
TAKE_FILE_WORDS = {
    Portrait.Take.ORIGINAL: "original",
    Portrait.Take.REROLL: "reroll",
    Portrait.Take.MORE_LIKE_ME: "more-like-me",
}
TAKE_WORDS = {
    Portrait.Take.ORIGINAL: gettext_noop("original %(number)s"),
    Portrait.Take.REROLL: gettext_noop("re-roll %(number)s"),
    Portrait.Take.MORE_LIKE_ME: gettext_noop("more like me %(number)s"),
}


def portrait_take_name(*, portrait: Portrait) -> str:
    """What tells a portrait from the others of its style, in the reader's language:
    "original 2", "re-roll 1", "more like me 1"."""
    return _(TAKE_WORDS[portrait.take]) % {"number": portrait.take_number}


def portrait_likeness_words(*, portrait: Portrait) -> str:
    if portrait.likeness_score is None:
        return _("likeness not measured")
    return _("likeness %(score)s/100") % {"score": round(portrait.likeness_score)}


def portrait_caption(*, portrait: Portrait) -> str:
    """The portrait's full name: style, take and likeness ("Business headshot, original 1,
    likeness 78/100"), as its viewer caption and its PNG's title say it."""
    return _("%(style)s, %(take)s, %(likeness)s") % {
        "style": portrait.template.display_title,
        "take": portrait_take_name(portrait=portrait),
        "likeness": portrait_likeness_words(portrait=portrait),
    }


def portrait_download_name(*, portrait: Portrait) -> str:
    """The file name a downloaded portrait is saved under: style, take and likeness, so a folder
    of them tells each apart; a test engine's output says so in it."""
    engine = "tiny-engine-" if engine_label_is_test_output(portrait.engine_label) else ""
    take = f"{TAKE_FILE_WORDS[portrait.take]}-{portrait.take_number}"
    likeness = f"-likeness-{round(portrait.likeness_score)}" if portrait.likeness_score is not None else ""
    return f"likeness-{engine}{portrait.template.slug}-{take}{likeness}.png"


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
