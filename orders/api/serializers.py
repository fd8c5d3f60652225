"""The orders API's shapes: an order, and the Checkout it starts."""

from rest_framework import serializers

from orders.models import Order


class OrderSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    avatar = serializers.SlugRelatedField(slug_field="public_id", read_only=True, allow_null=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    amount = serializers.IntegerField(read_only=True, help_text="In the currency's minor unit (fen, cents).")

    class Meta:
        model = Order
        fields = [
            "id",
            "avatar",
            "status",
            "status_label",
            "amount",
            "currency",
            "amount_display",
            "created_at",
            "paid_at",
        ]
        read_only_fields = fields


class CheckoutSerializer(serializers.Serializer):
    order = OrderSerializer()
    checkout_url = serializers.URLField(
        help_text="Open it in a browser to pay; poll the order for its status."
    )
