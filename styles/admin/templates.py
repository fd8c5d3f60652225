"""The admin's style templates: the curation page, its example results, figures and actions."""

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from avatars.engine.rendering import resolve_prompt
from avatars.selectors import template_list_with_statistics
from avatars.services import template_preview_render
from portrait_site.core.errors import ApplicationError
from styles.admin.actions import run_each
from styles.admin.forms import (
    WIDEST_IDENTITY,
    StyleExampleInlineForm,
    StyleTemplateForm,
    family_wording_fields,
    token_count_label,
    translated_languages,
    translation_field,
)
from styles.models import StyleExample, StyleTemplate
from styles.services import template_delete, template_publish, template_unpublish


class StyleExampleInline(admin.TabularInline):
    """Example results for the style's page, added right under the style, each with the consent
    of the person in it written down (a customer's portrait comes through the portraits' action)."""

    model = StyleExample
    form = StyleExampleInlineForm
    extra = 1
    fields = ["preview", "image", "caption", "consent_note", "consent_recorded", "sort_order"]
    readonly_fields = ["preview", "consent_recorded"]
    verbose_name = _("example result")
    verbose_name_plural = _("Example results (your own renders in this style, or people who agreed to be shown)")

    @admin.display(description=_("Consent recorded"))
    def consent_recorded(self, example) -> str:
        if not example.consent_recorded_at:
            return "–"
        return f"{example.consent_recorded_by}, {example.consent_recorded_at:%Y-%m-%d}"

    @admin.display(description=_("Shown now"))
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
    # Publishing is not editable in the list: on the form and in the actions it goes through
    # template_publish, which also ships the requests behind the template and tells their voters.
    list_editable = ["sort_order"]
    list_filter = ["is_published", "category", "audience"]
    search_fields = ["title", "slug", "prompt"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["cover_preview", "prompt_tokens", "negative_prompt_tokens"]
    actions = ["publish", "unpublish", "preview"]
    def get_fieldsets(self, request, obj=None):
        # One row per field: the default language's words beside each translation.
        side_by_side = (
            ("title", *(translation_field("title", code) for code, _name in translated_languages())),
            ("description", *(translation_field("description", code) for code, _name in translated_languages())),
        )
        names = {"fields": [*side_by_side, "slug", "category", "audience", "is_published", "sort_order"]}
        # The default (CLIP) wording beside each family's own.
        wordings = family_wording_fields()
        prompt = {"fields": [
            ("prompt", *(name for name, field, _member in wordings if field == "prompt")), "prompt_tokens",
            ("negative_prompt", *(name for name, field, _member in wordings if field == "negative_prompt")),
            "negative_prompt_tokens", "reference_image", "img2img_strength",
        ], "description": _("A family without a prompt of its own renders the default prompt and negative prompt. "
                            "A family that takes no negative prompt renders without one.")}
        return [(None, names), self.fieldsets[1], (_("Prompt"), prompt), *self.fieldsets[3:]]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The translation fields are the form's own (one per configured language), not the model's.
        translated = {
            translation_field(field, code) for field in ("title", "description") for code, _ in translated_languages()
        } | {name for name, _field, _member in family_wording_fields()}
        fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [name for name in fields if name not in translated and name not in self.readonly_fields]
        return super().get_form(request, obj, change=change, **kwargs)

    fieldsets = [
        (None, {"fields": ["title", "slug", "description", "category", "audience", "is_published", "sort_order"]}),
        (_("Pictures"), {
            "fields": ["cover_preview", "cover_image"],
            "description": _("The cover is the card customers pick the style from: a 4:5 picture, at least 640 px "
                             "wide. Without one the card shows a placeholder with the style's name. Example "
                             "results go below, one per row."),
        }),
        (_("Prompt"), {"fields": ["prompt", "prompt_tokens", "negative_prompt", "negative_prompt_tokens",
                               "reference_image", "img2img_strength"]}),
        (_("Rendering"), {"fields": ["guidance_scale", "steps", "width", "height", "seed_policy", "seed",
                                  "likeness_weight", "beauty_weight"]}),
        (_("Finishing passes"), {"fields": ["face_strength", "output_long_side", "hires_strength"]}),
    ]

    def get_queryset(self, request):
        return template_list_with_statistics(super().get_queryset(request))

    def save_model(self, request, obj, form, change) -> None:
        # The form's "published" box goes through the services, as the actions do.
        wanted = obj.is_published
        obj.is_published = form.initial.get("is_published", False) if change else False
        super().save_model(request, obj, form, change)
        if wanted != obj.is_published:
            try:
                (template_publish if wanted else template_unpublish)(template=obj)
            except ApplicationError as refusal:
                self.message_user(request, str(refusal), messages.WARNING)
            obj.refresh_from_db()

    def save_formset(self, request, form, formset, change) -> None:
        examples = formset.save(commit=False)
        for example in examples:
            if isinstance(example, StyleExample) and example.consent_recorded_at is None:
                example.consent_recorded_at = timezone.now()
                example.consent_recorded_by = request.user.email
            example.save()
        for gone in formset.deleted_objects:
            gone.delete()
        formset.save_m2m()

    def delete_model(self, request, obj) -> None:
        template_delete(template=obj)

    def delete_queryset(self, request, queryset) -> None:
        for template in queryset:
            template_delete(template=template)

    @admin.display(description=_("Prompt length"))
    def prompt_tokens(self, obj) -> str:
        if obj is None or not obj.prompt:
            return "–"
        return _("%(count)s, with the avatar's identity") % {
            "count": token_count_label(resolve_prompt(obj.prompt, **WIDEST_IDENTITY))
        }

    @admin.display(description=_("Negative prompt length"))
    def negative_prompt_tokens(self, obj) -> str:
        if obj is None or not obj.negative_prompt:
            return "–"
        return token_count_label(obj.negative_prompt)

    @admin.display(description=_("Cover now"))
    def cover_preview(self, obj) -> str:
        if not obj.pk or not obj.cover_image:
            return _("No cover yet: the card shows a placeholder with the style's name.")
        return format_html(
            '<img src="{}" alt="" width="160" height="200" class="admin-cover-preview">',
            reverse("styles:cover", args=[obj.slug]),
        )

    @admin.display(description=_("Renders"), ordering="render_count")
    def renders(self, obj) -> int:
        return obj.render_count

    @admin.display(description=_("Downloads"), ordering="download_total")
    def downloads(self, obj) -> int:
        return obj.download_total

    @admin.display(description=_("Avg likeness"), ordering="likeness_average")
    def average_likeness(self, obj) -> str:
        return "–" if obj.likeness_average is None else f"{obj.likeness_average:.1f}"

    @admin.display(description=_("“More like me”"), ordering="more_like_me_count")
    def more_like_me_clicks(self, obj) -> int:
        return obj.more_like_me_count

    @admin.action(description=_("Publish (ships their requests and tells the voters)"))
    def publish(self, request, queryset):
        run_each(self, request, queryset, lambda template: template_publish(template=template), _("Published"))
        for template in queryset.filter(cover_image=""):
            self.message_user(
                request,
                _("“%(title)s” has no cover: its card shows a placeholder with its name until you add one.")
                % {"title": template.title},
                messages.WARNING,
            )

    @admin.action(description=_("Unpublish"))
    def unpublish(self, request, queryset):
        run_each(self, request, queryset, lambda template: template_unpublish(template=template), _("Unpublished"))

    @admin.action(description=_("Preview on my avatar (needs an avatar trained on this staff account)"))
    def preview(self, request, queryset):
        run_each(
            self, request, queryset,
            lambda template: template_preview_render(template=template, by=request.user),
            _("Preview renders queued"),
        )
