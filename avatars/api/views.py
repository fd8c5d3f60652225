"""Avatars, photos, chosen templates, progress and portraits: thin views over the avatars services."""

import uuid

from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import Http404
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, parsers, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import DeletionReceiptSerializer
from accounts.consent import photo_upload_check
from accounts.services import client_ip
from avatars import selectors, services
from avatars.api import serializers as api_serializers
from avatars.downloads import portrait_download_response
from avatars.gpu.progress import avatar_progress
from portrait_site.core.api import IsOwner, PrivateFileView, error_responses
from portrait_site.core.caching import progress_poll_response
from portrait_site.core.files import private_file_response
from portrait_site.core.parsers import JSONParser

OWNED = [IsAuthenticated, IsOwner]


class OwnedAvatarMixin:
    # The selector finds the avatar among the user's own (404 otherwise); IsOwner checks again.
    permission_classes = OWNED

    def get_avatar(self):
        avatar = selectors.avatar_get_for_user(user=self.request.user, public_id=self.kwargs["public_id"])
        self.check_object_permissions(self.request, avatar)
        return avatar


class OwnedPortraitMixin:
    # As OwnedAvatarMixin: the owner-filtered selector first, IsOwner second.
    permission_classes = OWNED

    def get_portrait(self):
        portrait = selectors.portrait_get_for_user(user=self.request.user, public_id=self.kwargs["public_id"])
        self.check_object_permissions(self.request, portrait)
        return portrait


@extend_schema_view(get=extend_schema(operation_id="avatars_list", summary="Your avatars"))
class AvatarListView(generics.ListAPIView):
    serializer_class = api_serializers.AvatarSerializer
    parser_classes = [JSONParser]

    def get_queryset(self):
        return selectors.avatar_list_for_user_with_counts(user=self.request.user)

    @extend_schema(
        operation_id="avatars_create",
        summary="Start a new avatar",
        request=api_serializers.AvatarCreateSerializer,
        responses={201: api_serializers.AvatarDetailSerializer},
    )
    def post(self, request):
        payload = api_serializers.AvatarCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        avatar = services.avatar_create(user=request.user, **payload.validated_data)
        return Response(_avatar_detail(avatar), status=status.HTTP_201_CREATED)


def _avatar_detail(avatar) -> dict:
    avatar = selectors.avatar_list_for_user_with_counts(user=avatar.user).get(pk=avatar.pk)
    readiness = selectors.avatar_photo_readiness(avatar=avatar)
    return api_serializers.AvatarDetailSerializer(avatar, context={"readiness": readiness}).data


class AvatarDetailView(OwnedAvatarMixin, APIView):
    @extend_schema(
        operation_id="avatars_retrieve",
        summary="One avatar: status, readiness, refused photos",
        responses=api_serializers.AvatarDetailSerializer,
    )
    def get(self, request, public_id):
        return Response(_avatar_detail(self.get_avatar()))

    @extend_schema(
        operation_id="avatars_destroy",
        summary="Delete the avatar with its photos, avatar file and portraits",
        request=None,
        responses={200: DeletionReceiptSerializer},
    )
    def delete(self, request, public_id):
        receipt = services.avatar_delete_with_receipt(user=request.user, avatar=self.get_avatar())
        return Response(DeletionReceiptSerializer(receipt).data)


@extend_schema_view(
    get=extend_schema(operation_id="avatars_photos_list", summary="The avatar's photos with their verdicts")
)
class AvatarPhotosView(OwnedAvatarMixin, generics.ListAPIView):
    serializer_class = api_serializers.PhotoSerializer
    # No DRF throttle: photos_add counts every photo against the budget the page shares.
    parser_classes = [parsers.MultiPartParser]

    def get_queryset(self):
        return selectors.photo_list_for_avatar(avatar=self.get_avatar()).select_related("avatar")

    @extend_schema(
        operation_id="avatars_photos_upload",
        summary="Upload photos; each gets its own verdict",
        request={"multipart/form-data": api_serializers.PhotoUploadSerializer},
        responses={201: api_serializers.PhotoUploadResultSerializer, **error_responses(403, 429)},
        description="Refused (403, photo_consent_required or terms_not_accepted) until the current terms are "
        "accepted (PUT /api/v1/me/terms/) and this avatar's photo consent is given "
        "(POST /api/v1/avatars/{public_id}/photo-consent/). Each photo counts against the person's "
        "hourly budget, shared with the website (429, throttled, once it is spent).",
    )
    def post(self, request, public_id):
        avatar = self.get_avatar()
        photo_upload_check(user=request.user, avatar=avatar)
        try:
            payload = api_serializers.PhotoUploadSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
        except (TooManyFilesSent, RequestDataTooBig):
            raise serializers.ValidationError({"photos": [services.photos_too_many_message()]}) from None
        outcomes = services.photos_add(avatar=avatar, uploaded_files=payload.validated_data["photos"],
                                       client_address=client_ip(request))
        return Response(
            api_serializers.photo_upload_result_data(avatar=avatar, outcomes=outcomes), status=status.HTTP_201_CREATED
        )


class OwnedPhotoMixin(OwnedAvatarMixin):
    def get_photo(self):
        avatar = self.get_avatar()
        photo = selectors.photo_get_for_user(
            user=self.request.user, avatar=avatar, photo_id=self.kwargs["photo_id"]
        )
        self.check_object_permissions(self.request, photo)
        return photo


class AvatarPhotoView(OwnedPhotoMixin, APIView):
    @extend_schema(
        operation_id="avatars_photos_remove",
        summary="Remove a photo from the set",
        request=None,
        responses={204: None},
    )
    def delete(self, request, public_id, photo_id):
        services.photo_remove(photo=self.get_photo())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AvatarPhotoImageView(PrivateFileView, OwnedPhotoMixin, APIView):
    @extend_schema(
        operation_id="avatars_photos_image",
        summary="The cleaned copy of a photo, while it is kept",
        responses={(200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="JPEG")},
    )
    def get(self, request, public_id, photo_id):
        photo = self.get_photo()
        if not photo.image:
            raise Http404("This photo is no longer stored.")
        return private_file_response(photo.image, content_type="image/jpeg")


class AvatarTemplatesView(OwnedAvatarMixin, APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="avatars_templates_set",
        summary="Choose the styles the first portraits are rendered in",
        request=api_serializers.TemplateChoiceSerializer,
        responses=api_serializers.AvatarDetailSerializer,
    )
    def put(self, request, public_id):
        avatar = self.get_avatar()
        payload = api_serializers.TemplateChoiceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.avatar_templates_set(avatar=avatar, templates=payload.validated_data["templates"])
        return Response(_avatar_detail(avatar))


class AvatarProgressView(OwnedAvatarMixin, APIView):
    @extend_schema(
        operation_id="avatars_progress",
        summary="Training and render jobs with queue position and ETA",
        responses=api_serializers.ProgressSerializer,
    )
    @method_decorator(progress_poll_response(
        selectors.avatar_progress_version_for_request, before_building=selectors.avatar_progress_estimates_follow
    ))
    def get(self, request, public_id):
        progress = avatar_progress(avatar=self.get_avatar())
        response = Response(api_serializers.ProgressSerializer(progress).data)
        response.holds_seconds = selectors.avatar_progress_holds_seconds(progress=progress)
        return response


class AvatarRenderMoreView(OwnedAvatarMixin, APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="avatars_render_more",
        summary="Render a ready avatar in more styles",
        request=api_serializers.TemplateChoiceSerializer,
        responses={202: api_serializers.RenderJobListSerializer},
    )
    def post(self, request, public_id):
        avatar = self.get_avatar()
        payload = api_serializers.TemplateChoiceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        jobs = services.avatar_render_more(avatar=avatar, templates=payload.validated_data["templates"])
        return Response(
            api_serializers.RenderJobListSerializer({"jobs": jobs}).data, status=status.HTTP_202_ACCEPTED
        )


class AvatarReopenView(OwnedAvatarMixin, APIView):
    @extend_schema(
        operation_id="avatars_reopen",
        summary="After a failed, refunded build: change the photo set and pay again",
        request=None,
        responses={200: api_serializers.AvatarDetailSerializer},
    )
    def post(self, request, public_id):
        avatar = services.avatar_reopen(avatar=self.get_avatar())
        return Response(_avatar_detail(avatar))


# --- Portraits ------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        operation_id="portraits_list",
        summary="Your portraits, newest first",
        parameters=[
            OpenApiParameter("avatar", OpenApiTypes.UUID, description="Only this avatar's portraits.")
        ],
    )
)
class PortraitListView(generics.ListAPIView):
    serializer_class = api_serializers.PortraitSerializer

    def get_queryset(self):
        avatar = None
        avatar_id = self.request.query_params.get("avatar")
        if avatar_id:
            avatar = selectors.avatar_get_for_user(
                user=self.request.user, public_id=_avatar_filter(avatar_id)
            )
        return selectors.portrait_list_for_user(user=self.request.user, avatar=avatar)


def _avatar_filter(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        raise serializers.ValidationError({"avatar": ["Not an avatar id."]}) from None


class PortraitDetailView(OwnedPortraitMixin, APIView):
    @extend_schema(
        operation_id="portraits_retrieve",
        summary="One portrait with its likeness and versions",
        responses=api_serializers.PortraitDetailSerializer,
    )
    def get(self, request, public_id):
        portrait = self.get_portrait()
        context = {"versions": selectors.portrait_versions(portrait=portrait)}
        return Response(api_serializers.PortraitDetailSerializer(portrait, context=context).data)

    @extend_schema(
        operation_id="portraits_destroy",
        summary="Delete the portrait and its file",
        request=None,
        responses={200: DeletionReceiptSerializer},
    )
    def delete(self, request, public_id):
        receipt = services.portrait_delete_with_receipt(user=request.user, portrait=self.get_portrait())
        return Response(DeletionReceiptSerializer(receipt).data)


class PortraitDownloadView(PrivateFileView, OwnedPortraitMixin, APIView):
    @extend_schema(
        operation_id="portraits_download",
        summary="The full-size portrait file",
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG")},
    )
    def get(self, request, public_id):
        return portrait_download_response(portrait=self.get_portrait())


class PortraitMoreLikeMeView(OwnedPortraitMixin, APIView):
    @extend_schema(
        operation_id="portraits_more_like_me",
        summary="Render it again, closer to the person",
        request=None,
        responses={202: api_serializers.RenderJobSerializer},
    )
    def post(self, request, public_id):
        job = services.portrait_more_like_me(portrait=self.get_portrait())
        return Response(api_serializers.RenderJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class PortraitRerollView(OwnedPortraitMixin, APIView):
    @extend_schema(
        operation_id="portraits_reroll",
        summary="Render a fresh take on the same style",
        request=None,
        responses={202: api_serializers.RenderJobSerializer},
    )
    def post(self, request, public_id):
        job = services.portrait_reroll(portrait=self.get_portrait())
        return Response(api_serializers.RenderJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
