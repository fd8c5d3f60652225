"""The styles API's shapes: a style template, a template request, proposing one, and a vote."""

from django.urls import reverse
from rest_framework import serializers

from styles.models import StyleTemplate, TemplateRequest


class StyleTemplateSerializer(serializers.ModelSerializer):
    category_label = serializers.CharField(source="get_category_display", read_only=True)
    used_by = serializers.IntegerField(
        read_only=True, help_text="How many avatars have portraits in this style."
    )
    cover_url = serializers.SerializerMethodField()
    title = serializers.CharField(
        source="display_title", read_only=True, help_text="In the request's language (Accept-Language)."
    )
    description = serializers.CharField(source="display_description", read_only=True)

    class Meta:
        model = StyleTemplate
        fields = [
            "slug",
            "title",
            "description",
            "category",
            "category_label",
            "audience",
            "width",
            "height",
            "used_by",
            "cover_url",
        ]
        read_only_fields = fields

    def get_cover_url(self, template) -> str | None:
        if not template.cover_image:
            return None
        return reverse("styles:cover", kwargs={"slug": template.slug})


class TemplateRequestSerializer(serializers.ModelSerializer):
    vote_count = serializers.IntegerField(read_only=True)
    has_voted = serializers.BooleanField(read_only=True, help_text="Whether you have voted for it.")
    is_mine = serializers.SerializerMethodField(help_text="Whether you proposed it.")

    class Meta:
        model = TemplateRequest
        fields = ["id", "title", "description", "status", "vote_count", "has_voted", "is_mine", "created_at"]
        read_only_fields = fields

    def get_is_mine(self, template_request) -> bool:
        user = self.context["request"].user
        return user.is_authenticated and template_request.author_id == user.pk


class TemplateRequestCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    reference_image = serializers.ImageField(
        required=False, allow_null=True, help_text="A picture of the look (JPEG, PNG or WebP, up to 5 MB)."
    )


class VoteSerializer(serializers.Serializer):
    voted = serializers.BooleanField()
    vote_count = serializers.IntegerField()
