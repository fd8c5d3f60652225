from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from avatars.engine.families import PROMPT_WORDING_FAMILIES
from avatars.engine.prompts import (
    prompt_overflow,
    prompt_token_count,
    prompt_token_count_for,
    prompt_token_limit,
)
from avatars.engine.rendering import resolve_prompt
from avatars.gpu.engine_config import engine_spec
from avatars.selectors import template_list_with_statistics
from avatars.services import template_preview_render
from portrait_site.core.errors import ApplicationError
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
    count, limit = prompt_token_count(spec, text), prompt_token_limit(spec)
    if count > limit:
        raise forms.ValidationError(
            _("%(what)s is %(count)s tokens; the model reads %(limit)s (its start and end included) and "
              "would silently drop “%(dropped)s”. Shorten it.")
            % {"what": what, "count": count, "limit": limit, "dropped": prompt_overflow(spec, text)}
        )


def _refuse_if_cut_for(model_family, text: str, *, what: str) -> None:
    count, limit, dropped = prompt_token_count_for(engine_spec(), model_family, text)
    if count > limit:
        raise forms.ValidationError(
            _("%(what)s is %(count)s tokens for %(family)s; its text encoder reads %(limit)s and would "
              "silently drop “%(dropped)s”. Shorten it.")
            % {"what": what, "count": count, "family": model_family.display_name, "limit": limit, "dropped": dropped}
        )


def _token_count_label(text: str) -> str:
    spec = engine_spec()
    count, limit = prompt_token_count(spec, text), prompt_token_limit(spec)
    return _count_label(count, limit)


def _count_label(count: int, limit: int) -> str:
    if count > limit:
        return _("%(count)s of %(limit)s tokens (too long: the end is cut)") % {"count": count, "limit": limit}
    return _("%(count)s of %(limit)s tokens") % {"count": count, "limit": limit}


def _translated_languages() -> list[tuple[str, str]]:
    """Every language but the default one, whose words are the title and description themselves."""
    return [(code, name) for code, name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def _translation_field(field: str, code: str) -> str:
    return f"{field}_{code.replace('-', '_')}"


def _family_wording_fields() -> list[tuple[str, str, object]]:
    """(form field, "prompt" or "negative_prompt", family) for each wording a template holds per
    family: a prompt for each family the engine words separately, a negative prompt where it takes one."""
    return [
        (f"{field}_{member.name}", field, member)
        for member in PROMPT_WORDING_FAMILIES
        for field in ("prompt", "negative_prompt")
        if field == "prompt" or member.takes_negative_prompt
    ]


class StyleTemplateForm(forms.ModelForm):
    """The name and description in each language side by side: a field per language, kept in
    StyleTemplate.translations."""

    class Meta:
        model = StyleTemplate
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        written = self.instance.translations or {}
        default_name = dict(settings.LANGUAGES).get(settings.LANGUAGE_CODE, settings.LANGUAGE_CODE)
        self.fields["title"].label = _("Title (%(language)s)") % {"language": default_name}
        self.fields["description"].label = _("Description (%(language)s)") % {"language": default_name}
        for code, name in _translated_languages():
            self.fields[_translation_field("title", code)] = forms.CharField(
                label=_("Title (%(language)s)") % {"language": name}, max_length=120, required=False,
                initial=written.get(code, {}).get("title", ""),
                help_text=_("Blank: the other title is shown."),
            )
            self.fields[_translation_field("description", code)] = forms.CharField(
                label=_("Description (%(language)s)") % {"language": name}, required=False, widget=forms.Textarea(attrs={"rows": 4}),
                initial=written.get(code, {}).get("description", ""),
            )
        self.fields["prompt"].label = _("Prompt (CLIP tags; every family without a wording of its own)")
        self.fields["negative_prompt"].label = _("Negative prompt (CLIP tags)")
        wordings = self.instance.prompt_by_family or {}
        for name, field, member in _family_wording_fields():
            text = wordings.get(member.name, {}).get(field, "")
            limit = member.prompt_token_limit
            if field == "prompt":
                label = _("Prompt (%(family)s)") % {"family": member.display_name}
                help_text = _("Sentences for its language model, with {identity}, up to %(limit)s tokens. "
                              "Blank: the default prompt and negative prompt are used.") % {"limit": limit}
            else:
                label = _("Negative prompt (%(family)s)") % {"family": member.display_name}
                help_text = _("Up to %(limit)s tokens. Used only with this family's own prompt.") % {"limit": limit}
            if text:
                count, limit, _dropped = prompt_token_count_for(engine_spec(), member, self._as_rendered(field, text))
                help_text = _("%(help)s Now: %(count)s.") % {"help": help_text, "count": _count_label(count, limit)}
            self.fields[name] = forms.CharField(
                label=label, required=False, initial=text, help_text=help_text,
                widget=forms.Textarea(attrs={"rows": 4}),
            )

    @staticmethod
    def _as_rendered(field: str, text: str) -> str:
        return resolve_prompt(text, **WIDEST_IDENTITY) if field == "prompt" else text

    def clean(self):
        cleaned = super().clean()
        for name, field, member in _family_wording_fields():
            text = (cleaned.get(name) or "").strip()
            if not text:
                continue
            if field == "prompt" and "{identity}" not in text:
                self.add_error(name, _("The prompt must contain {identity}: that is where the person's avatar goes."))
                continue
            what = _("With the avatar's identity in it, the prompt") if field == "prompt" else _("The negative prompt")
            try:
                _refuse_if_cut_for(member, self._as_rendered(field, text), what=what)
            except forms.ValidationError as refusal:
                self.add_error(name, refusal)
        return cleaned

    def save(self, commit=True):
        translations = dict(self.instance.translations or {})
        for code, _name in _translated_languages():
            words = {
                field: self.cleaned_data.get(_translation_field(field, code), "").strip()
                for field in ("title", "description")
            }
            words = {field: text for field, text in words.items() if text}
            if words:
                translations[code] = words
            else:
                translations.pop(code, None)
        self.instance.translations = translations
        wordings = {}
        for name, field, member in _family_wording_fields():
            text = self.cleaned_data.get(name, "").strip()
            if text:
                wordings.setdefault(member.name, {})[field] = text
        self.instance.prompt_by_family = wordings
        return super().save(commit=commit)

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        if "{identity}" not in prompt:
            raise forms.ValidationError(
                _("The prompt must contain {identity}: that is where the person's avatar goes.")
            )
        _refuse_if_cut(resolve_prompt(prompt, **WIDEST_IDENTITY), what=_("With the avatar's identity in it, the prompt"))
        return prompt

    def clean_negative_prompt(self) -> str:
        negative_prompt = self.cleaned_data["negative_prompt"]
        _refuse_if_cut(negative_prompt, what=_("The negative prompt"))
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
        modeladmin.message_user(request, _("%(done)s: %(count)s.") % {"done": done, "count": succeeded}, messages.SUCCESS)


class StyleExampleInlineForm(forms.ModelForm):
    class Meta:
        model = StyleExample
        fields = ["image", "caption", "consent_note", "sort_order"]
        widgets = {"consent_note": forms.Textarea(attrs={"rows": 2, "cols": 30})}

    def clean_consent_note(self) -> str:
        note = self.cleaned_data.get("consent_note", "").strip()
        if not note:
            raise forms.ValidationError(_("Say how and when the person in the picture agreed to be shown "
                                          "(for your own render: “my own avatar”)."))
        return note


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
            ("title", *(_translation_field("title", code) for code, _name in _translated_languages())),
            ("description", *(_translation_field("description", code) for code, _name in _translated_languages())),
        )
        names = {"fields": [*side_by_side, "slug", "category", "audience", "is_published", "sort_order"]}
        # The default (CLIP) wording beside each family's own.
        wordings = _family_wording_fields()
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
            _translation_field(field, code) for field in ("title", "description") for code, _ in _translated_languages()
        } | {name for name, _field, _member in _family_wording_fields()}
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
            "count": _token_count_label(resolve_prompt(obj.prompt, **WIDEST_IDENTITY))
        }

    @admin.display(description=_("Negative prompt length"))
    def negative_prompt_tokens(self, obj) -> str:
        if obj is None or not obj.negative_prompt:
            return "–"
        return _token_count_label(obj.negative_prompt)

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
        _run_each(self, request, queryset, lambda template: template_publish(template=template), _("Published"))
        for template in queryset.filter(cover_image=""):
            self.message_user(
                request,
                _("“%(title)s” has no cover: its card shows a placeholder with its name until you add one.")
                % {"title": template.title},
                messages.WARNING,
            )

    @admin.action(description=_("Unpublish"))
    def unpublish(self, request, queryset):
        _run_each(self, request, queryset, lambda template: template_unpublish(template=template), _("Unpublished"))

    @admin.action(description=_("Preview on my avatar (needs an avatar trained on this staff account)"))
    def preview(self, request, queryset):
        _run_each(
            self, request, queryset,
            lambda template: template_preview_render(template=template, by=request.user),
            _("Preview renders queued"),
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
        _run_each(self, request, queryset, lambda item: template_request_plan(request=item), _("Planned"))

    @admin.action(description=_("Decline"))
    def decline(self, request, queryset):
        _run_each(self, request, queryset, lambda item: template_request_decline(request=item), _("Declined"))

    @admin.action(description=_("Turn into a draft template"))
    def to_template(self, request, queryset):
        _run_each(
            self, request, queryset,
            lambda item: template_request_to_template(request=item, by=request.user),
            _("Draft templates made"),
        )


@admin.register(TemplateVote)
class TemplateVoteAdmin(admin.ModelAdmin):
    list_display = ["request", "user", "created_at"]
    list_select_related = ["request", "user"]
    search_fields = ["request__title", "user__email"]
