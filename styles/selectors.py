from django.db.models import QuerySet

from styles.models import StyleTemplate


def template_list_published() -> QuerySet[StyleTemplate]:
    return StyleTemplate.objects.filter(is_published=True).order_by("sort_order", "title")
