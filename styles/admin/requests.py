"""The admin's template requests and their votes: ordered by votes, moved on by the actions."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from styles.admin.actions import run_each
from styles.models import TemplateRequest, TemplateVote
from styles.services import (
    template_request_decline,
    template_request_delete,
    template_request_plan,
    template_request_to_template,
)


class VoteInline(admin.TabularInline):
    model = TemplateVote
    extra = 0
    fields = ["user", "created_at"]
    readonly_fields = ["user", "created_at"]
    can_delete = False


@admin.register(TemplateRequest)
class TemplateRequestAdmin(admin.ModelAdmin):
    list_display = ["title", "reference_thumbnail", "status", "vote_count", "category", "template", "created_at"]
    list_filter = ["status", "category"]
    list_select_related = ["template"]
    search_fields = ["title", "description"]
    # Status moves through the actions (services); the title is the requester's words.
    readonly_fields = ["title", "status", "author", "reference_image_link", "template", "created_at"]
    fields = ["title", "description", "category", "status", "reference_image_link", "author", "template", "created_at"]
    inlines = [VoteInline]
    actions = ["plan", "decline", "to_template"]

    def get_queryset(self, request):
        # The default ordering is by the annotation, so annotate before ModelAdmin would order.
        requests = self.model._default_manager.get_queryset().annotate(vote_total=Count("votes"))
        return requests.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ["-vote_total", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        template_request_delete(request=obj)

    def delete_queryset(self, request, queryset) -> None:
        for item in queryset:
            template_request_delete(request=item)

    @admin.display(description=_("Votes"), ordering="vote_total")
    def vote_count(self, obj) -> int:
        return obj.vote_total

    @admin.display(description=_("Reference image"))
    def reference_thumbnail(self, obj) -> str:
        if not obj.reference_image:
            return "–"
        return format_html(
            '<a href="{0}"><img src="{0}" alt="{1}" width="48" height="60" class="admin-request-reference"></a>',
            reverse("styles:request_reference", args=[obj.pk]), _("Reference image"),
        )

    @admin.display(description=_("Reference image"))
    def reference_image_link(self, obj) -> str:
        if not obj.reference_image:
            return "–"
        return format_html('<a href="{}">{}</a>', reverse("styles:request_reference", args=[obj.pk]), _("View"))

    @admin.action(description=_("Plan"))
    def plan(self, request, queryset):
        run_each(self, request, queryset, lambda item: template_request_plan(request=item), _("Planned"))

    @admin.action(description=_("Decline"))
    def decline(self, request, queryset):
        run_each(self, request, queryset, lambda item: template_request_decline(request=item), _("Declined"))

    @admin.action(description=_("Turn into a draft template"))
    def to_template(self, request, queryset):
        run_each(
            self, request, queryset,
            lambda item: template_request_to_template(request=item, by=request.user),
            _("Draft templates made"),
        )


@admin.register(TemplateVote)
class TemplateVoteAdmin(admin.ModelAdmin):
    list_display = ["request", "user", "created_at"]
    list_select_related = ["request", "user"]
    search_fields = ["request__title", "user__email"]
