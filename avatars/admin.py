"""The admin's avatars, photos, GPU jobs, portraits and GPU usage, each a working view over the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Sum
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from avatars import services
from avatars.models import Avatar, GpuUsage, Photo, Portrait, RenderJob, TrainingJob
from portrait_site.core.errors import ApplicationError


@admin.register(Avatar)
class AvatarAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "user", "status", "engine", "created_at", "trained_at"]
    list_filter = ["status", "subject_class", "engine_family"]
    list_select_related = ["user"]
    search_fields = ["user__email", "name", "public_id"]
    readonly_fields = ["public_id", "user", "status", "identity_token", "lora_file", "embedding_centroid",
                       "engine_label", "engine_family", "trained_at", "photos_deleted_at"]

    @admin.display(description=_("Engine"), ordering="engine_label")
    def engine(self, avatar) -> str:
        # The family says which pipeline's load_lora_weights the avatar's LoRA loads into.
        if avatar.engine_family:
            return f"{avatar.engine_label or '–'} ({avatar.engine_family})"
        return avatar.engine_label or "–"

    # The person's own deletion (photos, LoRA file and portraits leave storage), its receipt mailed to them.
    def delete_model(self, request, obj) -> None:
        services.avatar_delete_by_operator(avatar=obj)

    def delete_queryset(self, request, queryset) -> None:
        for avatar in queryset.select_related("user"):
            services.avatar_delete_by_operator(avatar=avatar)


class MadeBySystemAdmin(admin.ModelAdmin):
    """Rows only the system writes (uploads, jobs, renders): the admin shows them, never adds them."""

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Photo)
class PhotoAdmin(MadeBySystemAdmin):
    # No thumbnails on purpose: operators see verdicts, never customers' selfies.
    list_display = ["id", "avatar", "status", "refusal", "quality", "selected_for_training", "created_at"]
    list_filter = ["status", "reason_code", "selected_for_training"]
    search_fields = ["avatar__user__email", "original_name"]
    exclude = ["image", "embedding"]
    readonly_fields = ["avatar", "original_name", "status", "reason_code", "reason", "checks", "face_box",
                       "perceptual_hash", "width", "height", "quality_score", "selected_for_training"]

    def delete_model(self, request, obj) -> None:
        services.photo_delete_by_operator(photo=obj)

    def delete_queryset(self, request, queryset) -> None:
        for photo in queryset:
            services.photo_delete_by_operator(photo=photo)

    @admin.display(description=_("Why refused"), ordering="reason_code")
    def refusal(self, photo) -> str:
        return photo.reason_code.replace("_", " ") or "–"

    @admin.display(description=_("Quality"), ordering="quality_score")
    def quality(self, photo) -> str:
        return "–" if photo.quality_score is None else f"{photo.quality_score:.2f}"


CURVE_WIDTH, CURVE_HEIGHT = 320, 90


def likeness_curve_html(curve: list[dict], *, chosen_samples: int | None) -> SafeString:
    """The validation curve as a small chart (mean likeness against samples seen, the kept
    checkpoint marked) over a table of every point."""
    if not curve:
        return SafeString(_("no validation yet"))
    measured = [point for point in curve if point.get("mean_likeness") is not None]
    chart = SafeString("")
    if measured:
        most = max(point["samples"] for point in curve) or 1
        dots = format_html_join(
            "", '<circle cx="{}" cy="{}" r="{}" fill="{}"><title>{} samples: likeness {}</title></circle>',
            (
                (round(CURVE_WIDTH * point["samples"] / most), round(CURVE_HEIGHT * (1 - point["mean_likeness"] / 100)),
                 5 if point["samples"] == chosen_samples else 3,
                 "#b5472f" if point["samples"] == chosen_samples else "#444",
                 point["samples"], f"{point['mean_likeness']:.1f}")
                for point in measured
            ),
        )
        chart = format_html(
            '<svg width="{}" height="{}" role="img" aria-label="likeness while training" '
            'style="border:1px solid #ccc;background:#fafafa">{}</svg>',
            CURVE_WIDTH, CURVE_HEIGHT, dots,
        )
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (point["samples"], point.get("seed", ""), f"{point['loss']:.4f}",
             "-" if point.get("mean_likeness") is None else f"{point['mean_likeness']:.1f}",
             "-" if point.get("best_likeness") is None else f"{point['best_likeness']:.1f}",
             f"{point['faces_found']} of {point['images']}")
            for point in curve
        ),
    )
    return format_html(
        "{}<table><thead><tr><th>Samples</th><th>Seed</th><th>Loss</th><th>Mean likeness</th>"
        "<th>Best likeness</th><th>Faces found</th></tr></thead><tbody>{}</tbody></table>",
        chart, rows,
    )


class GpuJobAdmin(MadeBySystemAdmin):
    """Jobs with the GPU time they spent; the changelist totals it for what is filtered."""

    # Few enough columns to fit 1280 px with a subclass's own two; the rest is on each job's page.
    list_display = ["id", "avatar", "status", "progress", "attempts", "gpu_minutes", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["avatar"]
    search_fields = ["avatar__user__email"]
    readonly_fields = ["status", "stage", "progress", "attempts", "heartbeat_at", "gpu_seconds", "error",
                       "task_id", "started_at", "finished_at"]
    actions = ["retry_jobs"]
    change_list_template = "admin/avatars/gpu_job_change_list.html"

    @admin.display(description=_("GPU minutes"), ordering="gpu_seconds")
    def gpu_minutes(self, job) -> str:
        return f"{job.gpu_seconds / 60:.2f}"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            total = changelist.queryset.aggregate(total=Sum("gpu_seconds"))["total"] or 0
            response.context_data["gpu_minutes_total"] = f"{total / 60:.1f}"
        return response

    @admin.action(description=_("Retry selected failed jobs"))
    def retry_jobs(self, request, queryset):
        retried = 0
        for job in queryset:
            try:
                services.job_retry(job=job)
                retried += 1
            except services.AvatarError as error:
                self.message_user(request, _("Job %(job)s: %(error)s") % {"job": job.pk, "error": error}, messages.WARNING)
        if retried:
            self.message_user(request, _("Queued %(count)s job(s) again.") % {"count": retried}, messages.SUCCESS)


@admin.register(TrainingJob)
class TrainingJobAdmin(GpuJobAdmin):
    list_display = [*GpuJobAdmin.list_display, "best_likeness", "order"]
    list_select_related = ["avatar", "order"]
    readonly_fields = [*GpuJobAdmin.readonly_fields, "avatar", "order", "samples", "steps", "final_loss",
                       "chosen_checkpoint", "likeness_curve", "failure_reason"]
    exclude = ["validation_curve", "chosen_samples", "best_likeness"]

    @admin.display(description=_("Checkpoint kept"))
    def chosen_checkpoint(self, job) -> str:
        if job.chosen_samples is None:
            return _("the last one: likeness not measured (no face in the validation portraits)") if job.samples else "-"
        return _("after %(samples)s samples, likeness %(likeness)s") % {
            "samples": job.chosen_samples, "likeness": f"{job.best_likeness:.1f}"
        }

    @admin.display(description=_("Likeness while training"))
    def likeness_curve(self, job) -> str:
        return format_html("{}", likeness_curve_html(job.validation_curve, chosen_samples=job.chosen_samples))


@admin.register(RenderJob)
class RenderJobAdmin(GpuJobAdmin):
    list_display = ["id", "avatar", "template", "kind", *GpuJobAdmin.list_display[2:]]
    list_filter = ["status", "kind", "template"]
    list_select_related = ["avatar", "template"]
    readonly_fields = [*GpuJobAdmin.readonly_fields, "avatar", "template", "kind", "source_portrait"]


class StyleExampleConsentForm(forms.Form):
    consent_note = forms.CharField(
        label=_("How the person agreed to be shown"), widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("When and how they said yes (e.g. “Email of 3 December 2026: yes to the style pages”). "
                    "Kept with the example; without it nothing is shown."),
    )
    confirmed = forms.BooleanField(label=_("The person in these portraits agreed to be shown on the style pages."))
    caption = forms.CharField(label=_("Caption (optional)"), max_length=120, required=False)


@admin.register(Portrait)
class PortraitAdmin(MadeBySystemAdmin):
    list_display = ["portrait", "avatar", "template", "take", "take_number", "likeness", "downloads", "created_at"]
    list_filter = ["template", "take"]
    list_select_related = ["avatar", "template"]
    search_fields = ["avatar__user__email", "public_id"]
    exclude = ["image", "web_image"]
    readonly_fields = ["avatar", "template", "render_job", "seed", "likeness_score", "parameters",
                       "more_like_me_of", "version", "take", "take_number", "is_favourite", "engine_label", "download_count", "width", "height"]
    actions = ["show_as_style_example"]

    def delete_model(self, request, obj) -> None:
        services.portrait_delete_by_operator(portrait=obj)

    @admin.action(description=_("Show as an example of its style…"))
    def show_as_style_example(self, request, queryset):
        """First asks how the person in it agreed to be shown, then makes the examples."""
        form = StyleExampleConsentForm(request.POST if "consent_note" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(request, "admin/avatars/portrait/style_example_consent.html", {
                **self.admin_site.each_context(request),
                "title": _("Show as style examples"),
                "opts": self.model._meta,
                "portraits": queryset.select_related("template", "avatar__user"),
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            })
        made = 0
        for portrait in queryset.select_related("template"):
            try:
                services.portrait_style_example_create(
                    portrait=portrait, consent_note=form.cleaned_data["consent_note"],
                    caption=form.cleaned_data["caption"], by=request.user,
                )
            except ApplicationError as refusal:
                self.message_user(request, f"{portrait.public_id.hex[:8]}: {refusal}", messages.WARNING)
            else:
                made += 1
        if made:
            self.message_user(request, _("Style examples made: %(count)s.") % {"count": made}, messages.SUCCESS)
        return None

    def delete_queryset(self, request, queryset) -> None:
        for portrait in queryset.select_related("avatar__user"):
            services.portrait_delete_by_operator(portrait=portrait)

    @admin.display(description=_("Portrait"), ordering="created_at")
    def portrait(self, portrait) -> str:
        return portrait.public_id.hex[:8]

    @admin.display(description=_("Likeness"), ordering="likeness_score")
    def likeness(self, portrait) -> str:
        return "–" if portrait.likeness_score is None else f"{portrait.likeness_score:.0f}/100"

    @admin.display(description=_("Downloads"), ordering="download_count")
    def downloads(self, portrait) -> int:
        return portrait.download_count


@admin.register(GpuUsage)
class GpuUsageAdmin(MadeBySystemAdmin):
    """GPU time and likeness of finished jobs, with no link to a person: they outlive the customer."""

    list_display = ["finished_at", "kind", "template", "likeness", "gpu_minutes"]
    list_filter = ["kind", "template", "day"]
    list_select_related = ["template"]
    date_hierarchy = "finished_at"
    readonly_fields = ["kind", "template", "likeness_score", "gpu_seconds", "day", "finished_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("Likeness"), ordering="likeness_score")
    def likeness(self, usage) -> str:
        return "–" if usage.likeness_score is None else f"{usage.likeness_score:.0f}/100"

    @admin.display(description=_("GPU minutes"), ordering="gpu_seconds")
    def gpu_minutes(self, usage) -> str:
        return f"{usage.gpu_seconds / 60:.2f}"
