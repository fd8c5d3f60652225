"""Paying for an avatar and following the order: thin views over orders.services."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from avatars.selectors import avatar_get_for_user
from orders.api.serializers import CheckoutSerializer, OrderSerializer
from orders.models import Order
from orders.selectors import order_get_for_user
from orders.services import checkout_start, order_create_for_avatar
from portrait_site.core.api import IsOwner, WriteScopedRateThrottle, error_responses

OWNED = [IsAuthenticated, IsOwner]


class CheckoutView(APIView):
    permission_classes = OWNED
    throttle_classes = [WriteScopedRateThrottle]
    throttle_scope = "checkout"

    @extend_schema(
        operation_id="avatars_checkout",
        summary="Create (or reuse) the avatar's order and open a Stripe Checkout Session for it",
        request=None,
        responses={201: CheckoutSerializer, **error_responses(403, 503)},
        description="Refused (403, email_not_verified) until the account's email address is verified, "
        "and (403, terms_not_accepted) until the current terms are accepted.",
    )
    def post(self, request, public_id):
        avatar = avatar_get_for_user(user=request.user, public_id=public_id)
        self.check_object_permissions(request, avatar)
        order = order_create_for_avatar(user=request.user, avatar=avatar)
        url = request.build_absolute_uri(checkout_start(order=order))
        order.refresh_from_db()
        return Response(
            CheckoutSerializer({"order": order, "checkout_url": url}).data, status=status.HTTP_201_CREATED
        )


@extend_schema_view(get=extend_schema(operation_id="orders_list", summary="Your orders, newest first"))
class OrderListView(generics.ListAPIView):
    serializer_class = OrderSerializer
    permission_classes = OWNED

    def get_queryset(self):
        return (
            Order.objects.filter(user=self.request.user)
            .select_related("avatar")
            .order_by("-created_at", "-pk")
        )


class OrderDetailView(APIView):
    permission_classes = OWNED

    @extend_schema(
        operation_id="orders_retrieve", summary="One order and its payment status", responses=OrderSerializer
    )
    def get(self, request, public_id):
        order = order_get_for_user(user=request.user, public_id=public_id)
        self.check_object_permissions(request, order)
        return Response(OrderSerializer(order).data)
