"""The style-request list's rows, rendered once for everyone and kept in the cache.

A row reads the same to every visitor but for its vote button, which is either "Vote" or
"Take back my vote" for a signed-in visitor and absent for an anonymous one. So each row is
rendered in those three variants, kept under a key made of what the rows show (and of the
row template itself, so a deploy that changes it never serves the old markup), and each
request picks the viewer's variant. The per-visitor CSRF token sits once in the form around
the list, outside the cached markup. Rendering twenty rows through the template engine on
every request was most of the page's cost.
"""

import hashlib
from functools import cache as once_per_process

from django import template
from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

register = template.Library()

ROW_TEMPLATE = "styles/_request_row.html"
ROWS_KEPT_SECONDS = 10 * 60
ROW_VARIANTS = ("anonymous", "vote", "voted")


@once_per_process
def _row_template_digest() -> str:
    return hashlib.sha256(get_template(ROW_TEMPLATE).template.source.encode()).hexdigest()[:16]


def _rows_key(requests) -> str:
    shown = repr([(r.pk, r.title, r.description, r.status, r.vote_count) for r in requests])
    return "request-rows:" + hashlib.sha256(f"{_row_template_digest()}|{get_language()}|{shown}".encode()).hexdigest()


def _rows_rendered(requests) -> list[dict]:
    return [{variant: render_to_string(ROW_TEMPLATE, {"item": item, "button": variant}) for variant in ROW_VARIANTS}
            for item in requests]


@register.simple_tag(takes_context=True)
def request_rows(context, requests) -> str:
    """The <li> of each of `requests` (ranked, annotated with vote_count and has_voted), with
    the vote button the viewer should see."""
    requests = list(requests)
    key = _rows_key(requests)
    rows = cache.get(key)
    if rows is None:
        rows = _rows_rendered(requests)
        cache.set(key, rows, ROWS_KEPT_SECONDS)
    signed_in = context["user"].is_authenticated
    # Safe: every variant was rendered, escaped, by the row template.
    return mark_safe("".join(
        row[("voted" if item.has_voted else "vote") if signed_in else "anonymous"]
        for item, row in zip(requests, rows, strict=True)
    ))


@once_per_process
def _blank_form_rendered(form_class, language: str) -> str:
    return form_class().as_p()


@register.simple_tag
def request_form_fields(form) -> str:
    """The propose form's fields. The blank form is the same for everyone and costs as much to
    render as the rest of the page: rendered once per process (so a deploy renders it anew)."""
    if form.is_bound:
        return form.as_p()
    return _blank_form_rendered(type(form), get_language())
