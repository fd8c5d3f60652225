"""The signed-in person: API tokens, their account, and deleting everything with a receipt."""

from django.contrib.auth import authenticate, logout
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import serializers as api_serializers
from accounts.models import ApiToken
from accounts.services import sign_in_check, sign_in_failure_record
from accounts.tokens import api_token_create, api_tokens_revoke_all
from portrait_site.core.api import error_responses
from portrait_site.core.parsers import JSONParser
from portrait_site.privacy.deletion import user_delete_everything


class TokenView(APIView):
    parser_classes = [JSONParser]
    authentication_classes = []

    def get_permissions(self):
        return [AllowAny()]

    @extend_schema(
        operation_id="auth_token_create",
        summary="Trade an email and password for an API token",
        request=api_serializers.TokenRequestSerializer,
        responses={200: api_serializers.TokenSerializer, **error_responses(429)},
        auth=[],
    )
    def post(self, request):
        payload = api_serializers.TokenRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        email = payload.validated_data["email"].strip().lower()
        # The same budget as the website's and the admin's sign-in forms; a refusal is a 429 that says how long to wait.
        sign_in_check(request=request, account=email)
        user = authenticate(request, username=email, password=payload.validated_data["password"])
        if user is None:
            sign_in_failure_record(request=request, account=email)
            raise serializers.ValidationError(_("That email and password do not match an account."))
        token, key = api_token_create(user=user, name=payload.validated_data["name"])
        return Response(api_serializers.TokenSerializer({"token": key, "name": token.name, "expires_at": token.expires_at}).data)


class TokenRevokeView(APIView):
    @extend_schema(
        operation_id="auth_token_destroy",
        summary="Sign this token out (signed in with the website's session: every token of the account)",
        request=None,
        responses={204: None},
    )
    def delete(self, request):
        if isinstance(request.auth, ApiToken):
            request.auth.delete()
        else:
            api_tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="me_retrieve", summary="Your account", responses=api_serializers.MeSerializer)
    def get(self, request):
        return Response(api_serializers.MeSerializer(request.user).data)

    @extend_schema(
        operation_id="me_destroy",
        summary="Delete your account and everything of yours; answers with the receipt",
        request=api_serializers.DeleteEverythingSerializer,
        responses={200: api_serializers.DeletionReceiptSerializer, **error_responses(400)},
    )
    def delete(self, request):
        payload = api_serializers.DeleteEverythingSerializer(
            data=request.data, context={"user": request.user}
        )
        payload.is_valid(raise_exception=True)
        receipt = user_delete_everything(user=request.user)
        logout(request._request)
        return Response(api_serializers.DeletionReceiptSerializer(receipt).data)
