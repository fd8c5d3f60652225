from django.contrib import admin

from avatars.models import Avatar, Photo, Portrait, RenderJob, TrainingJob


@admin.register(Avatar)
class AvatarAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "user", "status", "created_at", "trained_at"]
    list_filter = ["status"]
    list_select_related = ["user"]
    search_fields = ["user__email", "name"]
    readonly_fields = ["public_id", "identity_token", "lora_file", "embedding_centroid", "trained_at"]


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    # No thumbnail on purpose: operators do not look at customers' selfies.
    list_display = ["id", "avatar", "status", "reason_code", "quality_score", "selected_for_training"]
    list_filter = ["status", "reason_code"]
    readonly_fields = ["image", "checks", "face_box", "embedding", "perceptual_hash"]
    exclude = ["embedding"]


class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "avatar", "status", "stage", "progress", "attempts", "gpu_seconds", "queued_at"]
    list_filter = ["status"]
    list_select_related = ["avatar"]
    search_fields = ["avatar__user__email"]


@admin.register(TrainingJob)
class TrainingJobAdmin(JobAdmin):
    pass


@admin.register(RenderJob)
class RenderJobAdmin(JobAdmin):
    list_display = [*JobAdmin.list_display, "template", "kind"]
    list_filter = ["status", "kind"]
    list_select_related = ["avatar", "template"]


@admin.register(Portrait)
class PortraitAdmin(admin.ModelAdmin):
    list_display = ["public_id", "avatar", "template", "likeness_score", "version", "created_at"]
    list_filter = ["template"]
    list_select_related = ["avatar", "template"]
