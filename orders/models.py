import uuid

from django.conf import settings
from django.db import models

from portrait_site.money import format_price
from portrait_site.status import StatusModel


class Order(StatusModel):
    """One purchase of an avatar build. Its rows outlive the user (bookkeeping law)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Created"
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Checkout expired"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        REFUND_PENDING = "refund_pending", "Refund pending"
        REFUNDED = "refunded", "Refunded"

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
        AVATAR = "avatar", "Avatar build"

    class PaidVia(models.TextChoices):
        WEBHOOK = "webhook", "Stripe webhook"
        RECONCILIATION = "reconciliation", "Reconciliation with Stripe"
        LOCAL = "local", "Local test payment (no money)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    avatar = models.ForeignKey(
        "avatars.Avatar", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    product = models.CharField(max_length=20, choices=Product.choices, default=Product.AVATAR)
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit (fen, cents).")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    stripe_checkout_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    checkout_url = models.URLField(max_length=1000, blank=True)
    # Each new Checkout Session gets the next number, which makes its idempotency key.
    checkout_attempts = models.PositiveSmallIntegerField(default=0)
    checkout_started_at = models.DateTimeField(null=True, blank=True)
    paid_via = models.CharField(max_length=20, choices=PaidVia.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.status})"

    @property
    def amount_display(self) -> str:
        return format_price(self.amount, self.currency)

    @property
    def reference(self) -> str:
        """The order's name for people: its day and the start of its public id ("20260312-1A2B3C")."""
        return f"{self.created_at:%Y%m%d}-{self.public_id.hex[:6].upper()}"


class StripeEvent(models.Model):
    """Each Stripe event id is processed once: its row is written with the order change."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="stripe_events")
    outcome = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class Refund(StatusModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    TRANSITIONS = {
        Status.PENDING: {Status.SUCCEEDED, Status.FAILED},
        Status.FAILED: {Status.PENDING},
        Status.SUCCEEDED: set(),
    }

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stripe_refund_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Refund {self.pk} of order {self.order_id} ({self.status})"
