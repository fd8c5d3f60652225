"""The admin's orders, Stripe events and refunds, with the operator's refund that asks a reason for the customer."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from orders.models import Order, Refund, StripeEvent
from orders.services import OrderNotAllowed, order_refund
from portrait_site.core.money import format_price


def stripe_dashboard_link(path: str, object_id: str):
    if not object_id:
        return "-"
    # Test-mode objects live under /test/ in the dashboard.
    mode = "test/" if settings.STRIPE_SECRET_KEY.startswith(("sk_test_", "rk_test_")) else ""
    return format_html(
        '<a href="https://dashboard.stripe.com/{}{}/{}" target="_blank" rel="noopener">{}</a>',
        mode, path, object_id, object_id,
    )


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["amount", "currency", "status", "reason", "stripe_refund", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Stripe refund"))
    def stripe_refund(self, refund):
        return stripe_dashboard_link("refunds", refund.stripe_refund_id)


class StripeEventInline(admin.TabularInline):
    model = StripeEvent
    extra = 0
    can_delete = False
    fields = ["stripe_event", "type", "outcome", "received_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Event"))
    def stripe_event(self, event):
        return stripe_dashboard_link("events", event.event_id)


# What operators most often tell a customer; the form takes any other words too. A chosen one is
# stored as its English catalogue id, so the refund mail words it in the customer's language
# (templates/orders/refund_email.txt), whatever language the operator reads the admin in.
REFUND_REASONS_SUGGESTED = [
    gettext_noop("You asked us for your money back."),
    gettext_noop("Your portraits did not turn out as they should: we are sorry."),
    gettext_noop("You were charged twice for the same avatar."),
    gettext_noop("Your avatar could not be trained from these photos."),
]


class RefundReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=200, label=_("Reason, for the customer"),
        help_text=_("Sent to the customer in the refund email. Your own address is never shown to them."),
        widget=forms.TextInput(attrs={"list": "refund-reasons", "size": 80, "autofocus": True}),
    )

    def clean_reason(self) -> str:
        """A suggested reason, picked in the operator's language, back to its catalogue id."""
        typed = self.cleaned_data["reason"]
        for reason in REFUND_REASONS_SUGGESTED:
            if typed in (reason, gettext(reason)):
                return reason
        return typed


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "reference", "user", "status", "amount_paid", "stripe_payment", "created_at",
    ]
    list_filter = ["status", "paid_via", "currency", "product", "created_at"]
    list_select_related = ["user", "avatar"]
    search_fields = [
        "=public_id", "user__email", "stripe_checkout_session_id", "stripe_payment_intent_id",
        "refunds__stripe_refund_id",
    ]
    date_hierarchy = "created_at"
    actions = ["refund_selected"]
    inlines = [RefundInline, StripeEventInline]
    fields = [
        "public_id", "user", "avatar", "product", "amount", "currency", "status", "paid_via",
        "stripe_checkout_session_id", "stripe_payment", "checkout_url", "checkout_attempts",
        "checkout_started_at", "created_at", "paid_at", "updated_at",
    ]
    # Money and Stripe's ids are facts from Stripe: the admin shows them, services change them.
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Stripe payment"))
    def stripe_payment(self, order):
        return stripe_dashboard_link("payments", order.stripe_payment_intent_id)

    @admin.display(description=_("Order"), ordering="created_at")
    def reference(self, order) -> str:
        return order.reference

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_paid(self, order) -> str:
        return order.amount_display

    @admin.action(description=_("Refund selected orders…"))
    def refund_selected(self, request, queryset):
        """First asks the reason the customer will read, then refunds; who refunded stays in the admin's log."""
        form = RefundReasonForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(request, "admin/orders/order/refund_reason.html", {
                **self.admin_site.each_context(request),
                "title": _("Refund orders"),
                "opts": self.model._meta,
                "orders": queryset,
                "form": form,
                "suggested_reasons": [gettext(reason) for reason in REFUND_REASONS_SUGGESTED],
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            })
        reason = form.cleaned_data["reason"]
        refunded, refused = 0, []
        for order in queryset:
            try:
                refund = order_refund(order=order, reason=reason)
            except OrderNotAllowed as error:
                refused.append(str(error))
                continue
            self.log_change(request, order, f"Refunded: {reason}")
            refunded += 1
            if refund.status == Refund.Status.PENDING and not refund.stripe_refund_id and order.stripe_payment_intent_id:
                self.message_user(
                    request,
                    _("Refund %(refund)s is recorded but Stripe did not answer; it is sent again shortly.") % {"refund": refund.pk},
                    messages.WARNING,
                )
        if refunded:
            self.message_user(
                request, _("%(count)s order(s) refunded or already refunding.") % {"count": refunded}, messages.SUCCESS
            )
        for reason in refused:
            self.message_user(request, reason, messages.ERROR)


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "order", "outcome", "received_at"]
    list_filter = ["type", "outcome"]
    list_select_related = ["order"]
    search_fields = ["event_id", "order__public_id"]
    readonly_fields = ["event_id", "type", "order", "outcome", "received_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["order_reference", "amount_refunded", "status", "reason", "stripe_refund", "created_at"]
    list_filter = ["status"]
    list_select_related = ["order"]
    search_fields = ["stripe_refund_id", "order__stripe_payment_intent_id", "order__user__email"]
    fields = ["order", "amount", "currency", "reason", "status", "stripe_refund", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("Stripe refund"))
    def stripe_refund(self, refund):
        return stripe_dashboard_link("refunds", refund.stripe_refund_id)

    @admin.display(description=_("Order"), ordering="order__created_at")
    def order_reference(self, refund) -> str:
        return refund.order.reference

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_refunded(self, refund) -> str:
        return format_price(refund.amount, refund.currency)
