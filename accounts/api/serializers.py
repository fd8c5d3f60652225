"""The accounts API's shapes: a token request and its token, the signed-in person, deleting everything and its receipt."""

from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import serializers

from accounts.models import DeletionReceipt, User


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(
        max_length=80, required=False, default="", allow_blank=True,
        help_text="What the token is for, as the account page lists it (say, the laptop's script).",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as 'Authorization: Token <token>'. Shown only this once.")
    name = serializers.CharField()
    expires_at = serializers.DateTimeField(
        help_text="It stops working then, or sooner: revoked, or the account's password changed."
    )


class MeSerializer(serializers.ModelSerializer):
    email_verified_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="null until the emailed link is opened; paying waits for it."
    )

    class Meta:
        model = User
        fields = ["email", "display_name", "date_joined", "email_verified_at"]
        read_only_fields = fields


class DeleteEverythingSerializer(serializers.Serializer):
    confirm = serializers.EmailField(help_text="The account's email address, typed again to confirm.")

    def validate_confirm(self, value: str) -> str:
        if value.strip().lower() != self.context["user"].email.lower():
            raise serializers.ValidationError(_("That is not the email address of this account."))
        return value


class DeletionReceiptSerializer(serializers.ModelSerializer):
    removed = serializers.DictField(
        help_text="How many of each thing were deleted (avatars, photos, portraits...)."
    )
    url = serializers.SerializerMethodField(help_text="The receipt's page; anyone with the link can read it.")

    class Meta:
        model = DeletionReceipt
        fields = ["token", "scope", "removed", "created_at", "url"]
        read_only_fields = fields

    def get_url(self, receipt) -> str:
        return reverse("accounts:receipt", kwargs={"token": receipt.token})
