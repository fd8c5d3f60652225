from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Value
from django.http import Http404

from styles.models import StyleTemplate, TemplateRequest, TemplateVote


def template_list_published() -> QuerySet[StyleTemplate]:
    return StyleTemplate.objects.filter(is_published=True).order_by("sort_order", "title")


def template_catalogue_version() -> str:
    """Changes whenever a published template is added, removed or edited (one indexed query)."""
    from django.db.models import Max

    figures = StyleTemplate.objects.filter(is_published=True).aggregate(count=Count("pk"), changed=Max("updated_at"))
    return f"{figures['count']}:{figures['changed']}"


def template_gallery_list(*, category: str | None = None) -> QuerySet[StyleTemplate]:
    """Published templates in the operator's order, each with how many avatars have portraits in it."""
    templates = template_list_published().annotate(
        used_by=Count("portraits__avatar", distinct=True)
    )
    if category:
        templates = templates.filter(category=category)
    return templates


def template_get_visible(*, slug: str, viewer) -> StyleTemplate:
    """A published template, or any template for staff; Http404 otherwise."""
    templates = StyleTemplate.objects.all()
    if not (viewer is not None and viewer.is_authenticated and viewer.is_staff):
        templates = templates.filter(is_published=True)
    try:
        return templates.annotate(used_by=Count("portraits__avatar", distinct=True)).get(slug=slug)
    except StyleTemplate.DoesNotExist:
        raise Http404("No such style.") from None


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
