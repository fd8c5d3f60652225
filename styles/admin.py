from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from avatars.engine.pipeline import CLIP_MAX_TOKENS
from avatars.engine.prompts import prompt_overflow, prompt_token_count
from avatars.engine.rendering import resolve_prompt
from avatars.engine_config import engine_spec
from avatars.selectors import template_list_with_statistics
from avatars.services import template_preview_render
from portrait_site.errors import ApplicationError
from styles.models import StyleExample, StyleTemplate, TemplateRequest, TemplateVote
from styles.services import (
    template_delete,
    template_publish,
    template_request_decline,
    template_request_delete,
    template_request_plan,
    template_request_to_template,
    template_unpublish,
)

# The longest identity the site mints ("lks" and four hex digits, avatars.models.new_identity_token,
# where each digit is a token of its own) and the longest class word: a prompt that fits with
# it fits every avatar's.
WIDEST_IDENTITY = {"identity_token": "lks0a0a", "subject_class": "person"}


def _refuse_if_cut(text: str, *, what: str) -> None:
    spec = engine_spec()
    count = prompt_token_count(spec, text)
    if count > CLIP_MAX_TOKENS:
        raise forms.ValidationError(
            f"{what} is {count} tokens; the model reads {CLIP_MAX_TOKENS} (its start and end included) and "
            f"would silently drop “{prompt_overflow(spec, text)}”. Shorten it."
        )


def _token_count_label(text: str) -> str:
    count = prompt_token_count(engine_spec(), text)
    over = " (too long: the end is cut)" if count > CLIP_MAX_TOKENS else ""
    return f"{count} of {CLIP_MAX_TOKENS} tokens{over}"


class StyleTemplateForm(forms.ModelForm):
    class Meta:
        model = StyleTemplate
        fields = "__all__"

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if "{identity}" not in prompt:
            raise forms.ValidationError(
                "The prompt must contain {identity}: that is where the person's avatar goes."
            )
        _refuse_if_cut(resolve_prompt(prompt, **WIDEST_IDENTITY), what="With the avatar's identity in it, the prompt")
        return prompt

    def clean_negative_prompt(self) -> str:
        negative_prompt = self.cleaned_data["negative_prompt"]
        _refuse_if_cut(negative_prompt, what="The negative prompt")
        return negative_prompt


def _run_each(modeladmin, request, objects, action, done: str) -> None:
    succeeded = 0
    for obj in objects:
        try:
            action(obj)
        except ApplicationError as refusal:
            modeladmin.message_user(request, str(refusal), messages.WARNING)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{done}: {succeeded}.", messages.SUCCESS)


class StyleExampleInline(admin.TabularInline):
    """Example results for the style's page, added right under the style."""

    model = StyleExample
    extra = 1
    fields = ["preview", "image", "caption", "sort_order"]
    readonly_fields = ["preview"]
    verbose_name = "example result"
    verbose_name_plural = "Example results (your own renders in this style, or people who agreed to be shown)"

    @admin.display(description="Shown now")
    def preview(self, example) -> str:
        if not example.pk or not example.image:
            return "–"
        return format_html(
            '<img src="{}" alt="" width="96" height="120">',
            reverse("styles:example", args=[example.template.slug, example.pk]),
        )


@admin.register(StyleTemplate)
class StyleTemplateAdmin(admin.ModelAdmin):
    form = StyleTemplateForm
    inlines = [StyleExampleInline]
    list_display = [
        "title", "category", "audience", "is_published", "sort_order",
        "renders", "downloads", "average_likeness", "more_like_me_clicks",
    ]
    # Publishing is not editable in place: it goes through template_publish, which also
    # ships the requests behind the template and tells their voters.
    list_editable = ["sort_order"]
    list_filter = ["is_published", "category", "audience"]
    search_fields = ["title", "slug", "prompt"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["is_published", "cover_preview", "prompt_tokens", "negative_prompt_tokens"]
    actions = ["publish", "unpublish", "preview"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "category", "audience", "is_published", "sort_order"]}),
        ("Pictures", {
            "fields": ["cover_preview", "cover_image"],
            "description": "The cover is the card customers pick the style from: a 4:5 picture, at least 640 px "
                           "wide. Without one the card shows a placeholder with the style's name. Example "
                           "results go below, one per row.",
        }),
        ("Prompt", {"fields": ["prompt", "prompt_tokens", "negative_prompt", "negative_prompt_tokens",
                               "reference_image", "img2img_strength"]}),
        ("Rendering", {"fields": ["guidance_scale", "steps", "width", "height", "seed_policy", "seed",
                                  "likeness_weight", "beauty_weight"]}),
        ("Finishing passes", {"fields": ["face_strength", "output_long_side", "hires_strength"]}),
    ]

    def get_queryset(self, request):
        return template_list_with_statistics(super().get_queryset(request))

    def delete_model(self, request, obj) -> None:
        template_delete(template=obj)

    def delete_queryset(self, request, queryset) -> None:
        for template in queryset:
            template_delete(template=template)

    @admin.display(description="Prompt length")
    def prompt_tokens(self, obj) -> str:
        if obj is None or not obj.prompt:
            return "–"
        return f"{_token_count_label(resolve_prompt(obj.prompt, **WIDEST_IDENTITY))}, with the avatar's identity"

    @admin.display(description="Negative prompt length")
    def negative_prompt_tokens(self, obj) -> str:
        if obj is None or not obj.negative_prompt:
            return "–"
        return _token_count_label(obj.negative_prompt)

    @admin.display(description="Cover now")
    def cover_preview(self, obj) -> str:
        if not obj.pk or not obj.cover_image:
            return "No cover yet: the card shows a placeholder with the style's name."
        return format_html(
            '<img src="{}" alt="" width="160" height="200" class="admin-cover-preview">',
            reverse("styles:cover", args=[obj.slug]),
        )

    @admin.display(description="Renders", ordering="render_count")
    def renders(self, obj) -> int:
        return obj.render_count

    @admin.display(description="Downloads", ordering="download_total")
    def downloads(self, obj) -> int:
        return obj.download_total

    @admin.display(description="Avg likeness", ordering="likeness_average")
    def average_likeness(self, obj) -> str:
        return "–" if obj.likeness_average is None else f"{obj.likeness_average:.1f}"

    @admin.display(description="“More like me”", ordering="more_like_me_count")
    def more_like_me_clicks(self, obj) -> int:
        return obj.more_like_me_count

    @admin.action(description="Publish (ships their requests and tells the voters)")
    def publish(self, request, queryset):
        _run_each(self, request, queryset, lambda template: template_publish(template=template), "Published")
        for template in queryset.filter(cover_image=""):
            self.message_user(
                request,
                f"“{template.title}” has no cover: its card shows a placeholder with its name until you add one.",
                messages.WARNING,
            )

    @admin.action(description="Unpublish")
    def unpublish(self, request, queryset):
        _run_each(self, request, queryset, lambda template: template_unpublish(template=template), "Unpublished")

    @admin.action(description="Preview on my avatar (needs an avatar trained on this staff account)")
    def preview(self, request, queryset):
        _run_each(
            self, request, queryset,
            lambda template: template_preview_render(template=template, by=request.user),
            "Preview renders queued",
        )


class VoteInline(admin.TabularInline):
    model = TemplateVote
    extra = 0
    fields = ["user", "created_at"]
    readonly_fields = ["user", "created_at"]
    can_delete = False


@admin.register(TemplateRequest)
class TemplateRequestAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "vote_count", "author", "template", "created_at"]
    list_filter = ["status"]
    list_select_related = ["author", "template"]
    search_fields = ["title", "description"]
    # Status moves through the actions (services); the title is the requester's words.
    readonly_fields = ["title", "status", "author", "reference_image_link", "template", "created_at"]
    fields = ["title", "description", "status", "reference_image_link", "author", "template", "created_at"]
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

    @admin.display(description="Votes", ordering="vote_total")
    def vote_count(self, obj) -> int:
        return obj.vote_total

    @admin.display(description="Reference image")
    def reference_image_link(self, obj) -> str:
        if not obj.reference_image:
            return "–"
        return format_html('<a href="{}">View</a>', reverse("styles:request_reference", args=[obj.pk]))

    @admin.action(description="Plan")
    def plan(self, request, queryset):
        _run_each(self, request, queryset, lambda item: template_request_plan(request=item), "Planned")

    @admin.action(description="Decline")
    def decline(self, request, queryset):
        _run_each(self, request, queryset, lambda item: template_request_decline(request=item), "Declined")

    @admin.action(description="Turn into a draft template")
    def to_template(self, request, queryset):
        _run_each(
            self, request, queryset,
            lambda item: template_request_to_template(request=item, by=request.user),
            "Draft templates made",
        )


@admin.register(TemplateVote)
class TemplateVoteAdmin(admin.ModelAdmin):
    list_display = ["request", "user", "created_at"]
    list_select_related = ["request", "user"]
    search_fields = ["request__title", "user__email"]
