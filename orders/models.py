"""The orders tables: orders with their payment statuses, Stripe's events as received, refunds."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portrait_site.core.money import format_price
from portrait_site.core.status import StatusModel


class Order(StatusModel):
    """One purchase of an avatar build. Its rows outlive the user (bookkeeping law)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Created")
        AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        EXPIRED = "expired", _("Checkout expired")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        REFUND_PENDING = "refund_pending", _("Refund pending")
        REFUNDED = "refunded", _("Refunded")

    # The money came in, whatever happened to it since: the one list the services and the figures read.
    PAID_STATUSES = frozenset({Status.PAID, Status.REFUND_PENDING, Status.REFUNDED})

    # Forward only: paid never goes back to pending or awaiting payment.
    TRANSITIONS = {
        Status.PENDING: {Status.AWAITING_PAYMENT, Status.PAID, Status.EXPIRED},
        Status.AWAITING_PAYMENT: {Status.PAID, Status.EXPIRED, Status.PAYMENT_FAILED},
        Status.EXPIRED: {Status.PAID},
        Status.PAYMENT_FAILED: {Status.PAID},
        Status.PAID: {Status.REFUND_PENDING, Status.REFUNDED},
        Status.REFUND_PENDING: {Status.REFUNDED, Status.PAID},
        Status.REFUNDED: set(),
    }

    class Product(models.TextChoices):
        AVATAR = "avatar", _("Avatar build")

    class PaidVia(models.TextChoices):
        WEBHOOK = "webhook", _("Stripe webhook")
        RECONCILIATION = "reconciliation", _("Reconciliation with Stripe")
        LOCAL = "local", _("Local test payment (no money)")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders", verbose_name=_("user")
    )
    avatar = models.ForeignKey(
        "avatars.Avatar", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders", verbose_name=_("avatar")
    )
    product = models.CharField(max_length=20, choices=Product.choices, default=Product.AVATAR, verbose_name=_("product"))
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit (fen, cents).", verbose_name=_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    stripe_checkout_session_id = models.CharField(max_length=255, blank=True, db_index=True, verbose_name=_("stripe checkout session id"))
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True, verbose_name=_("stripe payment intent id"))
    checkout_url = models.URLField(max_length=1000, blank=True, verbose_name=_("checkout url"))
    # Each new Checkout Session gets the next number, which makes its idempotency key.
    checkout_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("checkout attempts"))
    checkout_started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("checkout started at"))
    paid_via = models.CharField(max_length=20, choices=PaidVia.choices, blank=True, verbose_name=_("paid via"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_status_display()})"

    @property
    def amount_display(self) -> str:
        return format_price(self.amount, self.currency)

    @property
    def reference(self) -> str:
        """The order's name for people: its day and the start of its public id ("20260312-1A2B3C")."""
        return f"{self.created_at:%Y%m%d}-{self.public_id.hex[:6].upper()}"


class StripeEvent(models.Model):
    """Each Stripe event id is processed once: its row is written with the order change."""

    event_id = models.CharField(max_length=255, unique=True, verbose_name=_("event id"))
    type = models.CharField(max_length=100, verbose_name=_("type"))
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="stripe_events", verbose_name=_("order"))
    outcome = models.CharField(max_length=200, blank=True, verbose_name=_("outcome"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        verbose_name = _("stripe event")
        verbose_name_plural = _("stripe events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class Refund(StatusModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    TRANSITIONS = {
        Status.PENDING: {Status.SUCCEEDED, Status.FAILED},
        Status.FAILED: {Status.PENDING},
        Status.SUCCEEDED: set(),
    }

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    amount = models.PositiveIntegerField(verbose_name=_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    reason = models.CharField(max_length=200, verbose_name=_("reason"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    stripe_refund_id = models.CharField(max_length=255, blank=True, db_index=True, verbose_name=_("stripe refund id"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order.reference}: {self.get_status_display()}"
