"""Reading orders and refunds: a person's own order, the one behind a Checkout or a refund, the stale and the unsent."""

from datetime import datetime

from django.db.models import QuerySet

from avatars.selectors import avatar_list_build_failed
from orders.models import Order, Refund
from portrait_site.core.errors import object_get_or_not_found


def order_get_for_user(*, user, public_id) -> Order:
    """The user's own order, or NotFound for anyone else's."""
    return object_get_or_not_found(Order.objects.select_related("avatar").filter(user=user), public_id=public_id)


def order_find_for_checkout_session(*, session: dict) -> Order | None:
    """The order a Checkout Session was made for: our reference first, then the session id."""
    reference = session.get("client_reference_id") or (session.get("metadata") or {}).get("order_id")
    if reference and str(reference).isdigit():
        order = Order.objects.filter(pk=int(reference)).first()
        if order is not None:
            return order
    session_id = session.get("id")
    if session_id:
        return Order.objects.filter(stripe_checkout_session_id=session_id).first()
    return None


def order_unpaid_for_avatar(*, avatar) -> Order | None:
    return (
        Order.objects.filter(
            avatar=avatar, status__in=[Order.Status.PENDING, Order.Status.AWAITING_PAYMENT]
        )
        .order_by("-created_at")
        .first()
    )


def order_list_stale_checkouts(*, started_before: datetime) -> QuerySet[Order]:
    return Order.objects.filter(
        status=Order.Status.AWAITING_PAYMENT,
        checkout_started_at__lt=started_before,
    ).exclude(stripe_checkout_session_id="")


def refund_list_unsent(*, created_before: datetime) -> QuerySet[Refund]:
    """Refunds written down whose call to Stripe never got an answer (crash, network)."""
    return Refund.objects.filter(status=Refund.Status.PENDING, stripe_refund_id="", created_at__lt=created_before)


def refund_list_awaiting_stripe(*, sent_before: datetime) -> QuerySet[Refund]:
    """Refunds Stripe accepted but whose outcome we have not heard (a lost webhook, or slow money)."""
    return Refund.objects.filter(
        status=Refund.Status.PENDING, updated_at__lt=sent_before
    ).exclude(stripe_refund_id="").order_by("updated_at")


def refund_find_for_stripe_refund(*, stripe_refund: dict) -> Refund | None:
    refund = Refund.objects.filter(stripe_refund_id=stripe_refund.get("id") or "-").first()
    if refund is not None:
        return refund
    reference = (stripe_refund.get("metadata") or {}).get("refund_id", "")
    if str(reference).isdigit():
        return Refund.objects.filter(pk=int(reference)).first()
    return None


def order_paid_for_avatar_build(*, avatar_id: int) -> Order | None:
    """The paid order behind the avatar's current build: the one its latest training was queued for."""
    return (
        Order.objects.filter(status=Order.Status.PAID, training_job__avatar_id=avatar_id)
        .order_by("-paid_at", "-pk")
        .first()
    )


def order_list_paid_with_failed_build() -> QuerySet[Order]:
    """Paid orders, never refunded, whose build failed for good (avatars' rule)."""
    return Order.objects.filter(
        status=Order.Status.PAID, refunds__isnull=True, training_job__avatar__in=avatar_list_build_failed()
    ).order_by("paid_at")
