"""The public template gallery, and template requests with votes: thin views over styles.services."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, parsers, status
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from portrait_site.core.api import WriteScopedRateThrottle, error_responses
from portrait_site.core.parsers import JSONParser
from styles.api.serializers import (
    StyleTemplateSerializer,
    TemplateRequestCreateSerializer,
    TemplateRequestSerializer,
    VoteSerializer,
)
from styles.models import TemplateRequest
from styles.selectors import template_gallery_list, template_get_visible, template_request_list_ranked
from styles.services import template_request_create, template_request_vote_set, template_request_vote_toggle


@extend_schema_view(
    get=extend_schema(
        operation_id="templates_list", summary="Published style templates, in the gallery's order"
    )
)
class TemplateListView(generics.ListAPIView):
    serializer_class = StyleTemplateSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        return template_gallery_list()


class TemplateDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="templates_retrieve", summary="One published template", responses=StyleTemplateSerializer
    )
    def get(self, request, slug):
        # viewer=None: the API shows published templates only, to staff as well.
        return Response(StyleTemplateSerializer(template_get_visible(slug=slug, viewer=None)).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="template_requests_list", summary="Open and planned requests, most votes first"
    )
)
class TemplateRequestListView(generics.ListAPIView):
    serializer_class = TemplateRequestSerializer
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes = [JSONParser, parsers.MultiPartParser]

    def get_queryset(self):
        return template_request_list_ranked(viewer=self.request.user)

    @extend_schema(
        operation_id="template_requests_create",
        summary="Propose a style; your own vote is cast with it",
        request={
            "application/json": TemplateRequestCreateSerializer,
            "multipart/form-data": TemplateRequestCreateSerializer,
        },
        responses={201: TemplateRequestSerializer, **error_responses(429)},
        description="Refused (429, limit_reached) past LIKENESS_TEMPLATE_REQUESTS_PER_DAY requests by one "
        "person in 24 hours.",
    )
    def post(self, request):
        payload = TemplateRequestCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created = template_request_create(author=request.user, **payload.validated_data)
        ranked = self.get_queryset().get(pk=created.pk)
        return Response(self.get_serializer(ranked).data, status=status.HTTP_201_CREATED)


class TemplateRequestDetailView(generics.GenericAPIView):
    serializer_class = TemplateRequestSerializer
    permission_classes = [AllowAny]

    @extend_schema(operation_id="template_requests_retrieve", summary="One open or planned request")
    def get(self, request, request_id):
        found = get_object_or_404(template_request_list_ranked(viewer=request.user), pk=request_id)
        return Response(self.get_serializer(found).data)


class TemplateRequestVoteView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [WriteScopedRateThrottle]
    throttle_scope = "votes"

    @extend_schema(
        operation_id="template_requests_vote_toggle",
        summary="Vote for the request, or take your vote back if you have one on it",
        request=None,
        responses=VoteSerializer,
    )
    def post(self, request, request_id):
        get_object_or_404(TemplateRequest, pk=request_id)
        voted, vote_count = template_request_vote_toggle(user=request.user, request_id=request_id)
        return Response({"voted": voted, "vote_count": vote_count})

    @extend_schema(
        operation_id="template_requests_vote_cast",
        summary="Vote for the request (idempotent)",
        request=None,
        responses=VoteSerializer,
    )
    def put(self, request, request_id):
        get_object_or_404(TemplateRequest, pk=request_id)
        voted, vote_count = template_request_vote_set(user=request.user, request_id=request_id, voted=True)
        return Response({"voted": voted, "vote_count": vote_count})

    @extend_schema(
        operation_id="template_requests_vote_remove",
        summary="Take your vote back (idempotent)",
        request=None,
        responses=VoteSerializer,
    )
    def delete(self, request, request_id):
        get_object_or_404(TemplateRequest, pk=request_id)
        voted, vote_count = template_request_vote_set(user=request.user, request_id=request_id, voted=False)
        return Response({"voted": voted, "vote_count": vote_count})
