"""The avatar pages' words for a portrait: its engine, its take, its likeness and its caption."""

from django import template

from avatars.selectors import (
    engine_label_words,
    portrait_caption,
    portrait_likeness_words,
    portrait_take_name,
)

register = template.Library()


@register.filter
def engine_words(label: str) -> str:
    """The stored engine label as the page's reader says it (avatars.selectors.engine_label_words)."""
    return engine_label_words(label)


@register.filter
def take_name(portrait) -> str:
    """"original 2", "re-roll 1", "more like me 1" (avatars.selectors.portrait_take_name)."""
    return portrait_take_name(portrait=portrait)


@register.filter
def likeness_words(portrait) -> str:
    return portrait_likeness_words(portrait=portrait)


@register.filter
def caption(portrait) -> str:
    """Style, take and likeness in one line (avatars.selectors.portrait_caption)."""
    return portrait_caption(portrait=portrait)
