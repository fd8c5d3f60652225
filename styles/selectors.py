"""Reading styles: the published gallery and its version, a visible template, and the ranked template requests, cached."""

import secrets
from datetime import timedelta
from typing import NamedTuple

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from accounts.models import Notice
from portrait_site.core.errors import object_get_or_not_found
from styles.models import StyleTemplate, TemplateRequest, TemplateVote


def template_list_published() -> QuerySet[StyleTemplate]:
    return StyleTemplate.objects.filter(is_published=True).order_by("sort_order", "title")


def template_catalogue_version() -> str:
    """Changes whenever a published template is added, removed or edited (one indexed query)."""
    from django.db.models import Max

    figures = StyleTemplate.objects.filter(is_published=True).aggregate(count=Count("pk"), changed=Max("updated_at"))
    return f"{figures['count']}:{figures['changed']}"


# A style is "New" in the gallery for this long after the operator publishes it.
NEW_STYLE_DAYS = 30


def template_gallery_list(*, category: str | None = None) -> QuerySet[StyleTemplate]:
    """Published templates in the operator's order, each with how many avatars have portraits in
    it and `is_new`: published in the last NEW_STYLE_DAYS (the seeded ones never were)."""
    since = timezone.now() - timedelta(days=NEW_STYLE_DAYS)
    templates = template_list_published().annotate(
        used_by=Count("portraits__avatar", distinct=True),
        is_new=ExpressionWrapper(Q(published_at__isnull=False, published_at__gte=since), output_field=BooleanField()),
    )
    if category:
        templates = templates.filter(category=category)
    return templates


def template_get_visible(*, slug: str, viewer) -> StyleTemplate:
    """A published template, or any template for staff; NotFound otherwise."""
    templates = StyleTemplate.objects.all()
    if not (viewer is not None and viewer.is_authenticated and viewer.is_staff):
        templates = templates.filter(is_published=True)
    return object_get_or_not_found(templates.annotate(used_by=Count("portraits__avatar", distinct=True)), slug=slug)


def template_request_list_by_author(*, user) -> QuerySet[TemplateRequest]:
    """The person's own style requests, oldest first, each with its vote count and the template it became."""
    return (
        TemplateRequest.objects.filter(author=user).select_related("template")
        .annotate(vote_count=Count("votes")).order_by("created_at", "pk")
    )


def template_vote_list_by_user(*, user) -> QuerySet[TemplateVote]:
    """The person's votes, oldest first, with the request each is for."""
    return TemplateVote.objects.filter(user=user).select_related("request").order_by("created_at", "pk")


def template_request_list_ranked(*, viewer=None) -> QuerySet[TemplateRequest]:
    """Open and planned requests, most votes first, then oldest first; `has_voted` for the viewer."""
    requests = (
        TemplateRequest.objects.filter(status__in=(TemplateRequest.Status.OPEN, TemplateRequest.Status.PLANNED))
        .annotate(vote_count=Count("votes"))
        .order_by("-vote_count", "created_at", "pk")
    )
    if viewer is not None and viewer.is_authenticated:
        requests = requests.annotate(
            has_voted=Exists(TemplateVote.objects.filter(request=OuterRef("pk"), user=viewer))
        )
    else:
        requests = requests.annotate(has_voted=Value(False))
    return requests


def template_request_position(*, request_id: int) -> int | None:
    """Where the request stands in the ranking (1 for the most wanted); None when it is not
    listed (declined, shipped or gone)."""
    ranked = template_request_list_ranked()
    request = ranked.filter(pk=request_id).first()
    if request is None:
        return None
    same_votes = Q(vote_count=request.vote_count)
    ahead = ranked.filter(
        Q(vote_count__gt=request.vote_count)
        | same_votes & Q(created_at__lt=request.created_at)
        | same_votes & Q(created_at=request.created_at, pk__lt=request.pk)
    )
    return ahead.count() + 1


# --- The request list page, from the cache ------------------------------------------------

# The ranking (a count of every vote) is the same for every visitor: each page of it is kept,
# under a version that every change through styles.services replaces at once. Changes made
# elsewhere (an operator's edit in the admin's change form, an account deleted with its
# votes) show within REQUEST_LIST_KEPT_SECONDS.
REQUEST_LIST_KEPT_SECONDS = 60
_REQUEST_LIST_VERSION_KEY = "template-request-list:version"


class RankedRequest(NamedTuple):
    pk: int
    title: str
    description: str
    status: str
    vote_count: int
    has_voted: bool


def template_request_list_changed() -> None:
    """The ranked list changed (a request or a vote added or taken back, a status moved): the
    cached pages are read anew. A fresh random version rather than a counter, so an evicted
    version can never come back and bring old pages with it."""
    cache.set(_REQUEST_LIST_VERSION_KEY, secrets.token_hex(8), timeout=None)


def _request_list_version() -> str:
    version = cache.get(_REQUEST_LIST_VERSION_KEY)
    if version is None:
        cache.add(_REQUEST_LIST_VERSION_KEY, secrets.token_hex(8), timeout=None)
        version = cache.get(_REQUEST_LIST_VERSION_KEY)
    return version


def _kept(key: str, measure):
    found = cache.get(key)
    if found is None:
        found = measure()
        cache.set(key, found, REQUEST_LIST_KEPT_SECONDS)
    return found


def template_request_page_ranked(*, number, per_page: int, viewer=None) -> Page:
    """One page of template_request_list_ranked() as RankedRequest rows, `has_voted` for the
    viewer. A bad or out-of-range `number` gives the first or last page, as Paginator.get_page.
    The ranking comes from the cache; only the viewer's own votes are read each time."""
    version = _request_list_version()
    count = _kept(f"template-request-list:{version}:count", lambda: template_request_list_ranked().count())
    page = Paginator(range(count), per_page).get_page(number)
    rows = _kept(
        f"template-request-list:{version}:{per_page}:{page.number}",
        lambda: list(
            template_request_list_ranked()[page.start_index() - 1 : page.end_index()].values_list(
                "pk", "title", "description", "status", "vote_count"
            )
        ) if count else [],
    )
    voted = set()
    if viewer is not None and viewer.is_authenticated and rows:
        voted = set(
            TemplateVote.objects.filter(user_id=viewer.pk, request_id__in=[row[0] for row in rows])
            .values_list("request_id", flat=True)
        )
    page.object_list = [RankedRequest(*row, has_voted=row[0] in voted) for row in rows]
    return page


def _person_figures_sql() -> str:
    notices, votes, templates = Notice._meta.db_table, TemplateVote._meta.db_table, StyleTemplate._meta.db_table
    return (
        f"SELECT (SELECT COUNT(*) FROM {notices} WHERE user_id = %s AND read_at IS NULL), "
        f"(SELECT MAX(id) FROM {notices} WHERE user_id = %s), "
        f"(SELECT COUNT(*) FROM {votes} WHERE user_id = %s), (SELECT MAX(id) FROM {votes} WHERE user_id = %s), "
        f"(SELECT COUNT(*) FROM {templates} WHERE is_published = %s), "
        f"(SELECT MAX(updated_at) FROM {templates} WHERE is_published = %s)"
    )


def template_request_page_version(request) -> str | None:
    """The version of the request list as the signed-in person sees it (a kept page's key): the
    ranking's version, and in one query their votes, their notices (the header says when one
    waits) and the published styles (the shipped list links them). None while a notice waits: that
    page shows it once, and is not kept."""
    user = request.user
    with connection.cursor() as cursor:
        cursor.execute(_person_figures_sql(), [user.pk] * 4 + [True] * 2)
        unread, *figures = cursor.fetchone()
    if unread:
        return None
    # What the header shows of the person beside their notices: the verify banner, the language.
    person = (user.email_verified_at, user.language, user.is_staff)
    return f"{_request_list_version()}|{figures}|{person}"
