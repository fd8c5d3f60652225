from django.contrib import admin
from django.db.models import Count

from styles.models import StyleTemplate, TemplateRequest, TemplateVote


@admin.register(StyleTemplate)
class StyleTemplateAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "audience", "is_published", "sort_order"]
    list_editable = ["is_published", "sort_order"]
    list_filter = ["is_published", "category", "audience"]
    search_fields = ["title", "slug", "prompt"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(TemplateRequest)
class TemplateRequestAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "vote_count", "author", "created_at"]
    list_filter = ["status"]
    list_select_related = ["author"]
    search_fields = ["title", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(vote_total=Count("votes"))

    @admin.display(description="Votes", ordering="vote_total")
    def vote_count(self, obj) -> int:
        return obj.vote_total


@admin.register(TemplateVote)
class TemplateVoteAdmin(admin.ModelAdmin):
    list_display = ["request", "user", "created_at"]
    list_select_related = ["request", "user"]
    search_fields = ["request__title", "user__email"]
