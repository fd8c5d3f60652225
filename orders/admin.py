from django.contrib import admin

from orders.models import Order, Refund, StripeEvent


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "amount_display", "created_at", "paid_at"]
    list_filter = ["status", "currency", "product"]
    list_select_related = ["user"]
    search_fields = ["user__email", "stripe_checkout_session_id", "stripe_payment_intent_id"]
    readonly_fields = [
        "public_id", "user", "avatar", "product", "amount", "currency", "status",
        "stripe_checkout_session_id", "stripe_payment_intent_id", "checkout_url", "created_at", "paid_at",
    ]


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "order", "outcome", "received_at"]
    list_filter = ["type"]
    search_fields = ["event_id"]
    readonly_fields = ["event_id", "type", "order", "outcome", "received_at"]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "amount", "currency", "status", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["order", "amount", "currency", "reason", "status", "stripe_refund_id", "created_at"]
