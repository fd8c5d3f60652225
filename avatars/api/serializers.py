"""The avatars API's shapes: avatars with their readiness and engine, photos and their verdicts, render allowances, portraits and jobs."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from avatars.gpu.job_stages import job_stage_words
from avatars.models import Avatar, Photo, Portrait, RenderJob
from avatars.selectors import (
    PhotoReadiness,
    avatar_photo_readiness,
    avatar_render_allowance,
    engine_label_is_test_output,
    photo_has_thumbnail,
    photo_list_for_avatar,
)
from styles.selectors import template_list_published


class ReadinessSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Photos accepted so far.")
    required = serializers.IntegerField(help_text="Accepted photos needed before paying.")
    missing = serializers.IntegerField()
    ready = serializers.BooleanField()


def readiness_data(readiness: PhotoReadiness) -> dict:
    return {
        "accepted": readiness.accepted,
        "required": readiness.required,
        "missing": readiness.missing,
        "ready": readiness.ready,
    }


class EngineSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="The model that trained the avatar or rendered the portrait.")
    test_output = serializers.BooleanField(
        help_text="True for the tiny engine: random weights, its portraits show nobody."
    )


def engine_data(label: str) -> dict | None:
    """What made an avatar or a portrait; None before anything was made."""
    if not label:
        return None
    return {"label": label, "test_output": engine_label_is_test_output(label)}


class AvatarSerializer(serializers.ModelSerializer):
    """An avatar in a list: the counts come annotated by avatar_list_for_user_with_counts."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    templates = serializers.SlugRelatedField(many=True, slug_field="slug", read_only=True)
    readiness = serializers.SerializerMethodField()
    portrait_count = serializers.IntegerField(read_only=True)
    engine = serializers.SerializerMethodField()

    class Meta:
        model = Avatar
        fields = [
            "id",
            "name",
            "status",
            "status_label",
            "subject_class",
            "templates",
            "readiness",
            "portrait_count",
            "engine",
            "created_at",
            "trained_at",
            "photos_deleted_at",
        ]
        read_only_fields = fields

    @extend_schema_field(EngineSerializer(allow_null=True))
    def get_engine(self, avatar) -> dict | None:
        return engine_data(avatar.engine_label)

    @extend_schema_field(ReadinessSerializer)
    def get_readiness(self, avatar) -> dict:
        return readiness_data(
            PhotoReadiness(accepted=avatar.accepted_photo_count, required=settings.LIKENESS_MIN_PHOTOS)
        )


class AvatarCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    subject_class = serializers.ChoiceField(
        choices=Avatar.SubjectClass.choices, default=Avatar.SubjectClass.PERSON
    )


def _photo_image_url(photo: Photo, *, avatar: Avatar) -> str | None:
    if not photo.image:
        return None
    return reverse("api:avatar-photo-image", kwargs={"public_id": avatar.public_id, "photo_id": photo.pk})


class DuplicateOfSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    image_url = serializers.CharField(allow_null=True, help_text="The earlier photo's cleaned copy, while it is kept.")


class PhotoSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    accepted = serializers.SerializerMethodField()
    reason = serializers.CharField(read_only=True, help_text="Why it was refused, in the reader's language.")
    image_url = serializers.SerializerMethodField()
    duplicate_of = serializers.SerializerMethodField(
        help_text="The earlier photo of the set this one copies (a stretched, recropped, tinted, greyed or "
                  "mirrored copy of the same shot); null when it is not a duplicate."
    )
    has_thumbnail = serializers.SerializerMethodField(
        help_text="Whether the website shows a thumbnail of it: a kept photo, or a refused one's small copy."
    )

    class Meta:
        model = Photo
        fields = [
            "id",
            "name",
            "status",
            "accepted",
            "reason_code",
            "reason",
            "width",
            "height",
            "quality_score",
            "selected_for_training",
            "image_url",
            "duplicate_of",
            "has_thumbnail",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_thumbnail(self, photo) -> bool:
        return photo_has_thumbnail(photo=photo)

    def get_accepted(self, photo) -> bool:
        return photo.status == Photo.Status.ACCEPTED

    def get_image_url(self, photo) -> str | None:
        return _photo_image_url(photo, avatar=photo.avatar)

    @extend_schema_field(DuplicateOfSerializer(allow_null=True))
    def get_duplicate_of(self, photo) -> dict | None:
        if photo.reason_code != "duplicate" or photo.duplicate_of is None:
            return None
        original = photo.duplicate_of
        return {"id": original.pk, "name": original.original_name,
                "image_url": _photo_image_url(original, avatar=photo.avatar)}


class RenderAllowanceSerializer(serializers.Serializer):
    allowed = serializers.IntegerField(help_text="Extra renders the purchase buys (re-rolls, more like me, more styles).")
    used = serializers.IntegerField()
    left = serializers.IntegerField()


class AvatarDetailSerializer(AvatarSerializer):
    """One avatar with its readiness from the selector, the photos that were refused, and what
    is left of its extra renders."""

    refused_photos = serializers.SerializerMethodField()
    extra_renders = serializers.SerializerMethodField()
    refunded = serializers.SerializerMethodField(help_text="Refunded: keeps its portraits, renders nothing new.")

    class Meta(AvatarSerializer.Meta):
        fields = [*AvatarSerializer.Meta.fields, "refused_photos", "extra_renders", "refunded"]
        read_only_fields = fields

    @extend_schema_field(RenderAllowanceSerializer)
    def get_extra_renders(self, avatar) -> dict:
        allowance = avatar_render_allowance(avatar=avatar)
        return {"allowed": allowance.allowed, "used": allowance.used, "left": allowance.left}

    def get_refunded(self, avatar) -> bool:
        return avatar.refunded_at is not None

    @extend_schema_field(ReadinessSerializer)
    def get_readiness(self, avatar) -> dict:
        return readiness_data(self.context["readiness"])

    @extend_schema_field(PhotoSerializer(many=True))
    def get_refused_photos(self, avatar) -> list:
        return PhotoSerializer(self.context["readiness"].refused, many=True).data


class PhotoUploadSerializer(serializers.Serializer):
    photos = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        help_text="One or more selfies (JPEG, PNG, HEIC), sent as repeated multipart 'photos' parts.",
    )


class PhotoVerdictSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True, help_text="The photo's id; null when it was not taken at all."
    )
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Photo.Status.choices)
    accepted = serializers.BooleanField()
    reason_code = serializers.CharField(
        help_text="A short machine code such as 'several_faces'; empty if accepted."
    )
    reason = serializers.CharField(help_text="Why it was refused, for the person; empty if accepted.")
    image_url = serializers.CharField(allow_null=True, help_text="The cleaned copy, while it is kept.")
    duplicate_of = DuplicateOfSerializer(allow_null=True, required=False, help_text="The earlier photo it copies.")


class PhotoUploadResultSerializer(serializers.Serializer):
    results = PhotoVerdictSerializer(many=True)
    readiness = ReadinessSerializer()
    photos = PhotoSerializer(many=True, help_text="The avatar's whole photo set after this upload.")


def photo_upload_result_data(*, avatar, outcomes) -> dict:
    """The answer to an upload, the same on the website and the API: each file's verdict, the
    readiness, and the whole set (the page redraws its grid from it)."""
    results = []
    for outcome in outcomes:
        if outcome.photo is None:
            results.append({
                "id": None, "name": outcome.name, "status": Photo.Status.REJECTED, "accepted": False,
                "reason_code": "not_taken", "reason": outcome.not_taken, "image_url": None,
                "duplicate_of": None,
            })
        else:
            verdict = PhotoSerializer(outcome.photo).data
            results.append({key: verdict[key] for key in PhotoVerdictSerializer().fields})
    body = {
        "results": results,
        "readiness": readiness_data(avatar_photo_readiness(avatar=avatar)),
        "photos": list(photo_list_for_avatar(avatar=avatar).select_related("avatar")),
    }
    return PhotoUploadResultSerializer(body).data


class TemplateChoiceSerializer(serializers.Serializer):
    templates = serializers.SlugRelatedField(
        many=True,
        slug_field="slug",
        queryset=template_list_published(),
        help_text="Slugs of published templates.",
    )


class RenderJobSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    stage = serializers.SerializerMethodField(help_text="What the worker is doing, in the reader's language.")
    source_portrait = serializers.SlugRelatedField(slug_field="public_id", read_only=True)

    class Meta:
        model = RenderJob
        fields = ["id", "kind", "status", "stage", "progress", "template", "source_portrait", "queued_at"]
        read_only_fields = fields

    def get_stage(self, job) -> str:
        return job_stage_words(job.stage)


class RenderJobListSerializer(serializers.Serializer):
    jobs = RenderJobSerializer(many=True)


class JobProgressSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["training", "render"])
    label = serializers.CharField()
    status = serializers.CharField()
    stage = serializers.CharField(allow_blank=True)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    queue_position = serializers.IntegerField(allow_null=True)
    eta_seconds = serializers.IntegerField(allow_null=True)


class ProgressSerializer(serializers.Serializer):
    avatar_status = serializers.ChoiceField(choices=Avatar.Status.choices)
    avatar_status_label = serializers.CharField()
    overall_progress = serializers.IntegerField(min_value=0, max_value=100)
    done = serializers.BooleanField()
    failed = serializers.BooleanField()
    failure_reason = serializers.CharField(allow_blank=True, help_text="Why the build failed, for the person.")
    portrait_count = serializers.IntegerField()
    jobs = JobProgressSerializer(many=True)
    eta_seconds = serializers.IntegerField(
        allow_null=True, help_text="Seconds until all queued work is done, if known."
    )


class TemplateBriefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField(source="display_title")


class PortraitSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    avatar = serializers.SlugRelatedField(slug_field="public_id", read_only=True)
    template = TemplateBriefSerializer(read_only=True)
    more_like_me_of = serializers.SlugRelatedField(slug_field="public_id", read_only=True)
    likeness_score = serializers.FloatField(
        read_only=True, allow_null=True, help_text="0-100: how close the portrait is to the person's photos."
    )
    download_url = serializers.SerializerMethodField(
        help_text="Streams the full-size file (token or session)."
    )
    web_download_url = serializers.SerializerMethodField(
        help_text="The website's download link (session only)."
    )
    engine = serializers.SerializerMethodField()

    class Meta:
        model = Portrait
        fields = [
            "id",
            "avatar",
            "template",
            "width",
            "height",
            "likeness_score",
            "version",
            "take",
            "take_number",
            "is_favourite",
            "more_like_me_of",
            "download_count",
            "created_at",
            "download_url",
            "web_download_url",
            "engine",
        ]
        read_only_fields = fields

    @extend_schema_field(EngineSerializer(allow_null=True))
    def get_engine(self, portrait) -> dict | None:
        return engine_data(portrait.engine_label)

    def get_download_url(self, portrait) -> str:
        return reverse("api:portrait-download", kwargs={"public_id": portrait.public_id})

    def get_web_download_url(self, portrait) -> str:
        return reverse("avatars:portrait_download", kwargs={"public_id": portrait.public_id})


class PortraitVersionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Portrait
        fields = ["id", "version", "take", "take_number", "likeness_score", "created_at"]
        read_only_fields = fields


class PortraitDetailSerializer(PortraitSerializer):
    versions = serializers.SerializerMethodField(
        help_text="The 'more like me' chain it belongs to, oldest first."
    )

    class Meta(PortraitSerializer.Meta):
        fields = [*PortraitSerializer.Meta.fields, "versions"]
        read_only_fields = fields

    @extend_schema_field(PortraitVersionSerializer(many=True))
    def get_versions(self, portrait) -> list:
        return PortraitVersionSerializer(self.context["versions"], many=True).data
