"""The API's side of who owns what: the terms' version and its acceptance, an avatar's photo
consent, a new verification link, and the download-my-data zip. The same rules as the pages."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.consent import photo_consent_give, photo_consent_given, photo_consent_statement
from accounts.terms import terms_accept, terms_accepted, terms_version
from accounts.verification import email_verification_resend
from avatars.selectors import avatar_get_for_user
from portrait_site.core.api import IsOwner, PrivateFileView, error_responses
from portrait_site.core.parsers import JSONParser
from portrait_site.privacy.export import user_data_export_response


class TermsSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="The current version; accept it with PUT /api/v1/me/terms/.")
    terms_url = serializers.CharField()
    privacy_url = serializers.CharField()
    accepted = serializers.BooleanField(help_text="Whether you accepted this version (false when signed out).")


class TermsAcceptSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="The version you were shown and accept: it must be the current one.")


class PhotoConsentSerializer(serializers.Serializer):
    given = serializers.BooleanField()
    statement = serializers.ListField(child=serializers.CharField(), help_text="What is agreed to, one sentence each.")


class PhotoConsentGiveSerializer(serializers.Serializer):
    agree = serializers.BooleanField(help_text="true: you agree to the statement for this avatar's photos.")

    def validate_agree(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError(_("No photo is taken without consent. To withdraw it, delete the avatar."))
        return value


def _terms_data(request) -> dict:
    return {
        "version": terms_version(),
        "terms_url": request.build_absolute_uri(reverse("terms")),
        "privacy_url": request.build_absolute_uri(reverse("privacy")),
        "accepted": request.user.is_authenticated and terms_accepted(user=request.user),
    }


class TermsView(APIView):
    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else super().get_permissions()

    @extend_schema(operation_id="terms_retrieve", summary="The current terms' version and pages", responses=TermsSerializer)
    def get(self, request):
        return Response(TermsSerializer(_terms_data(request)).data)


class MyTermsView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="me_terms_accept",
        summary="Accept the current terms and privacy notice",
        request=TermsAcceptSerializer,
        responses={200: TermsSerializer, **error_responses(403)},
    )
    def put(self, request):
        payload = TermsAcceptSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        terms_accept(user=request.user, version=payload.validated_data["version"])
        return Response(TermsSerializer(_terms_data(request)).data)


class PhotoConsentView(APIView):
    permission_classes = [IsAuthenticated, IsOwner]
    parser_classes = [JSONParser]

    def _avatar(self):
        avatar = avatar_get_for_user(user=self.request.user, public_id=self.kwargs["public_id"])
        self.check_object_permissions(self.request, avatar)
        return avatar

    def _data(self, avatar) -> dict:
        return {
            "given": photo_consent_given(avatar=avatar),
            "statement": photo_consent_statement(avatar=avatar).splitlines(),
        }

    @extend_schema(
        operation_id="avatars_photo_consent_retrieve",
        summary="What consenting to this avatar's photos means, and whether it is given",
        responses=PhotoConsentSerializer,
    )
    def get(self, request, public_id):
        return Response(PhotoConsentSerializer(self._data(self._avatar())).data)

    @extend_schema(
        operation_id="avatars_photo_consent_give",
        summary="Consent to this avatar's photos being used to train it; needed before its first photo",
        request=PhotoConsentGiveSerializer,
        responses={201: PhotoConsentSerializer, **error_responses(400, 403)},
    )
    def post(self, request, public_id):
        avatar = self._avatar()
        PhotoConsentGiveSerializer(data=request.data).is_valid(raise_exception=True)
        photo_consent_give(user=request.user, avatar=avatar)
        return Response(PhotoConsentSerializer(self._data(avatar)).data, status=status.HTTP_201_CREATED)


class VerifyEmailView(APIView):
    @extend_schema(
        operation_id="me_verify_email_send",
        summary="Email a new link that verifies your address (paying waits for it)",
        request=None,
        responses={202: None, **error_responses(429)},
        description=f"At most {settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR} links an hour.",
    )
    def post(self, request):
        email_verification_resend(user=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


class MyDataExportView(PrivateFileView, APIView):
    @extend_schema(
        operation_id="me_export",
        summary="Download my data: every portrait, each avatar's LoRA, orders, refunds, consents",
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="ZIP")},
    )
    def get(self, request):
        return user_data_export_response(user=request.user)
