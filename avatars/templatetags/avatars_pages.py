from django import template

from avatars.selectors import engine_label_words

register = template.Library()


@register.filter
def engine_words(label: str) -> str:
    """The stored engine label as the page's reader says it (avatars.selectors.engine_label_words)."""
    return engine_label_words(label)
