"""Orders: Checkout, fulfilment on Stripe's word (webhook or reconciliation), reconciliation, refunds.

Only Stripe's word marks an order paid: its signed webhook (orders.webhooks), or our own
question to its API during reconciliation. The page a buyer returns to never fulfils anything.
The refund rule lives here too: a build that failed for good gets its money back.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from accounts.mail import mail_user
from accounts.terms import terms_check_accepted
from accounts.verification import email_check_verified
from avatars import selectors as avatar_selectors
from avatars import services as avatar_services
from avatars.models import Avatar
from orders import stripe_gateway
from orders.models import Order, Refund
from orders.selectors import (
    order_list_paid_with_failed_build,
    order_list_stale_checkouts,
    order_paid_for_avatar_build,
    order_unpaid_for_avatar,
    refund_list_awaiting_stripe,
    refund_list_unsent,
)
from portrait_site.core.errors import ApplicationError

logger = logging.getLogger(__name__)

# Stripe accepts 30 minutes to 24 hours; a few minutes over the minimum leaves room
# for clock skew, and a short life keeps abandoned sessions from lingering.
CHECKOUT_SESSION_LIFETIME = timedelta(minutes=35)
# A session this young is handed out again (a reload, a double click) instead of a new one.
CHECKOUT_SESSION_REUSE = timedelta(minutes=25)
# A refund younger than this may still be on its way to Stripe from its first sender.
REFUND_RESEND_AFTER = timedelta(minutes=2)
# Stripe settles most refunds within minutes and tells us by webhook; one still pending this
# long after it was sent is asked about directly, in case that webhook was lost.
REFUND_RECHECK_AFTER = timedelta(minutes=30)
RECONCILE_BATCH = 200

SESSION_PAID = {"paid", "no_payment_required"}


class OrderNotAllowed(ApplicationError):
    """The order cannot be created, paid or refunded as asked; the message is for people."""

    code = "order_not_allowed"


def order_create_for_avatar(*, user, avatar: Avatar) -> Order:
    """The avatar's unpaid order, created if there is none yet. Paying waits for the current
    terms to be accepted (TermsNotAccepted) and the email address to be verified (EmailNotVerified)."""
    if avatar.user_id != user.pk:
        raise OrderNotAllowed(gettext("This avatar is not yours."))
    terms_check_accepted(user=user)
    email_check_verified(user=user)
    if avatar.status != Avatar.Status.COLLECTING:
        raise OrderNotAllowed(
            gettext("This avatar is %(status)s: there is nothing to pay for.") % {"status": avatar.get_status_display().lower()}
        )
    readiness = avatar_selectors.avatar_photo_readiness(avatar=avatar)
    if not readiness.ready:
        if readiness.missing:
            raise OrderNotAllowed(
                gettext("Add %(count)s more accepted photo(s) before paying.") % {"count": readiness.missing}
            )
        raise OrderNotAllowed(gettext("Your photos are not ready for training yet."))
    with transaction.atomic():
        # Locking the avatar makes two quick clicks share one order.
        Avatar.objects.select_for_update().get(pk=avatar.pk)
        existing = order_unpaid_for_avatar(avatar=avatar)
        if existing is not None:
            return existing
        return Order.objects.create(
            user=user, avatar=avatar, amount=settings.LIKENESS_PRICE_MINOR, currency=settings.LIKENESS_CURRENCY
        )


def checkout_start(*, order: Order) -> str:
    """The URL of the payment page for this order: Stripe Checkout, or the local test page."""
    try:
        return _checkout_start(order_id=order.pk)
    except stripe_gateway.PaymentGatewayError:
        # Stripe may hold a session we never heard of. Its key cannot be reused with
        # a new expiry, so the next try takes the next number.
        Order.objects.filter(pk=order.pk).update(checkout_attempts=F("checkout_attempts") + 1)
        raise


def _checkout_start(*, order_id: int) -> str:
    with transaction.atomic():
        # The row stays locked during the call to Stripe, so a double click waits
        # for the first session and is handed the same one.
        order = Order.objects.select_for_update(of=("self",)).select_related("user").get(pk=order_id)
        if order.status not in (Order.Status.PENDING, Order.Status.AWAITING_PAYMENT):
            raise OrderNotAllowed(
                gettext("This order is %(status)s: it cannot be paid now.") % {"status": order.get_status_display().lower()}
            )
        now = timezone.now()
        if (
            order.status == Order.Status.AWAITING_PAYMENT
            and order.checkout_url
            and order.checkout_started_at
            and now - order.checkout_started_at < CHECKOUT_SESSION_REUSE
        ):
            return order.checkout_url
        attempt = order.checkout_attempts + 1
        if settings.LIKENESS_LOCAL_PAYMENTS:
            session_id, url = "", reverse("orders:local_pay", args=[order.public_id])
        else:
            return_url = settings.SITE_URL.rstrip("/") + reverse("orders:detail", args=[order.public_id])
            session_id, url = stripe_gateway.checkout_session_create(
                order=order,
                success_url=return_url,
                cancel_url=return_url,
                idempotency_key=f"checkout-{order.public_id}-{attempt}",
                expires_at=int((now + CHECKOUT_SESSION_LIFETIME).timestamp()),
            )
        order.checkout_attempts = attempt
        order.stripe_checkout_session_id = session_id
        order.checkout_url = url
        order.checkout_started_at = now
        if order.status == Order.Status.PENDING:
            order.transition_to(Order.Status.AWAITING_PAYMENT)
        order.save()
    return url


def order_fulfil(*, order_id: int, checkout_session_id: str = "", payment_intent_id: str = "", via: str) -> Order:
    """Marks the order paid and queues its avatar's training: once, whoever asks first."""
    order, _ = order_fulfil_once(
        order_id=order_id, checkout_session_id=checkout_session_id, payment_intent_id=payment_intent_id, via=via
    )
    return order


def order_fulfil_once(*, order_id: int, checkout_session_id: str, payment_intent_id: str, via: str) -> tuple[Order, bool]:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status in Order.PAID_STATUSES:
            if payment_intent_id and order.stripe_payment_intent_id not in ("", payment_intent_id):
                logger.error(
                    "Order %s was paid twice (%s, then %s): refund the second payment in Stripe's dashboard",
                    order.pk, order.stripe_payment_intent_id, payment_intent_id,
                )
            return order, False
        order.transition_to(Order.Status.PAID)
        order.paid_at = timezone.now()
        order.paid_via = via
        if checkout_session_id:
            order.stripe_checkout_session_id = checkout_session_id
        if payment_intent_id:
            order.stripe_payment_intent_id = payment_intent_id
        order.save()
        avatar = Avatar.objects.select_for_update().filter(pk=order.avatar_id).first()
        if avatar is None or avatar.status != Avatar.Status.COLLECTING:
            # Paid after the avatar was deleted, or a second payment for an avatar
            # already paid for: nothing to build, so the money goes back.
            order_refund(order=order, reason=gettext_noop("Nothing to build for this payment: the avatar was deleted or already paid for."))
            order.refresh_from_db()
        else:
            avatar_services.training_job_create_for_order(order=order)
    logger.info("Order %s paid (via %s)", order.pk, via)
    return order, True


def order_close(*, order_id: int, checkout_session_id: str, status: str) -> tuple[Order, str]:
    """Expired or failed checkout; a paid order, or one now on a newer session, stays as it is."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if checkout_session_id and order.stripe_checkout_session_id not in ("", checkout_session_id):
            return order, "superseded session: no change"
        if not order.can_transition_to(status):
            return order, f"order {order.status}: no change"
        order.transition_to(status)
        order.save(update_fields=["status", "updated_at"])
    return order, f"order {status}"


def order_reconcile(*, order_id: int) -> str:
    """Asks Stripe about one checkout still awaiting payment, for when its webhook was lost."""
    order = Order.objects.get(pk=order_id)
    if order.status != Order.Status.AWAITING_PAYMENT or not order.stripe_checkout_session_id:
        return "nothing to do"
    session = stripe_gateway.checkout_session_retrieve(order.stripe_checkout_session_id)
    if session.payment_status in SESSION_PAID:
        _, fulfilled = order_fulfil_once(
            order_id=order.pk,
            checkout_session_id=session.session_id,
            payment_intent_id=session.payment_intent_id,
            via=Order.PaidVia.RECONCILIATION,
        )
        return "fulfilled" if fulfilled else "already paid"
    if session.status == "expired":
        _, outcome = order_close(order_id=order.pk, checkout_session_id=session.session_id, status=Order.Status.EXPIRED)
        return outcome
    return "still open"


def orders_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Refunds failed builds whose refund never started, settles stale checkouts, resends refunds
    Stripe never heard of, and asks Stripe about refunds whose outcome never reached us."""
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    outcomes.update(orders_refund_failed_builds())
    if settings.LIKENESS_LOCAL_PAYMENTS:
        return dict(outcomes)
    started_before = now - timedelta(minutes=settings.LIKENESS_STALE_CHECKOUT_MINUTES)
    stale = order_list_stale_checkouts(started_before=started_before).values_list("pk", flat=True)
    for order_id in list(stale[:RECONCILE_BATCH]):
        try:
            outcomes[order_reconcile(order_id=order_id)] += 1
        except stripe_gateway.PaymentGatewayError:
            logger.warning("Could not reconcile order %s with Stripe; the next run tries again", order_id, exc_info=True)
            outcomes["gateway error"] += 1
    for refund_id in list(refund_list_unsent(created_before=now - REFUND_RESEND_AFTER).values_list("pk", flat=True)):
        refund_send(refund_id=refund_id)
        outcomes["refund resent"] += 1
    awaiting = refund_list_awaiting_stripe(sent_before=now - REFUND_RECHECK_AFTER).values_list("pk", flat=True)
    for refund_id in list(awaiting[:RECONCILE_BATCH]):
        try:
            outcomes[refund_recheck(refund_id=refund_id)] += 1
        except stripe_gateway.PaymentGatewayError:
            logger.warning("Could not ask Stripe about refund %s; the next run tries again", refund_id, exc_info=True)
            outcomes["gateway error"] += 1
    return dict(outcomes)


# --- Refunds ------------------------------------------------------------------------


def order_refund_failed_build(*, avatar_id: int) -> Refund | None:
    """The refund rule for a build: a paid build that failed for good (its training, or every
    one of its first portraits) gets its money back, once. Told by avatars through
    settings.LIKENESS_ON_BUILD_FAILED; checked again here, so a stray call refunds nothing."""
    avatar = Avatar.objects.filter(pk=avatar_id).first()
    reason = avatar_selectors.avatar_build_failure_reason(avatar=avatar) if avatar is not None else None
    order = order_paid_for_avatar_build(avatar_id=avatar_id) if reason else None
    if order is None:
        return None
    return order_refund(order=order, reason=reason)


def orders_refund_failed_builds() -> Counter[str]:
    """The safety net under order_refund_failed_build: a refund that raised before its row was
    written (Stripe or the database down at that moment) is found here, on the next run."""
    outcomes: Counter[str] = Counter()
    for order_id, avatar_id in list(order_list_paid_with_failed_build().values_list("pk", "avatar_id")[:RECONCILE_BATCH]):
        try:
            order_refund_failed_build(avatar_id=avatar_id)
            outcomes["failed build refunded"] += 1
        except Exception:
            logger.exception("Refund of order %s for a failed build failed; the next run tries again", order_id)
            outcomes["failed build refund error"] += 1
    return outcomes


def order_refund(*, order: Order, reason: str) -> Refund:
    """Gives the order's money back; a second call returns the refund already under way.

    The Refund row is written first, so a crash before Stripe answers leaves a
    pending refund the reconciliation sends again under the same idempotency key.
    """
    with transaction.atomic():
        refund = _refund_record(order_id=order.pk, reason=reason)
        if refund.status == Refund.Status.PENDING and not refund.stripe_refund_id:
            # After the caller's commit: a rolled-back caller must not have moved money.
            transaction.on_commit(lambda: refund_send(refund_id=refund.pk))
    refund.refresh_from_db()
    return refund


def _refund_record(*, order_id: int, reason: str) -> Refund:
    order = Order.objects.select_for_update().get(pk=order_id)
    existing = order.refunds.exclude(status=Refund.Status.FAILED).order_by("-created_at").first()
    if existing is not None:
        return existing
    if order.status != Order.Status.PAID:
        raise OrderNotAllowed(
            gettext("Order %(order)s is %(status)s, not paid: there is nothing to refund.")
            % {"order": order.pk, "status": order.get_status_display().lower()}
        )
    order.transition_to(Order.Status.REFUND_PENDING)
    order.save(update_fields=["status", "updated_at"])
    if order.avatar_id:
        avatar_services.avatar_refund_record(avatar_id=order.avatar_id, refunded=True)
    refund = Refund.objects.create(order=order, amount=order.amount, currency=order.currency, reason=reason[:200])
    transaction.on_commit(lambda: refund_notify_user(refund_id=refund.pk), robust=True)
    return refund


def refund_send(*, refund_id: int) -> Refund:
    """Asks Stripe to pay a recorded refund out; safe to repeat (idempotency key per refund)."""
    refund = Refund.objects.select_related("order").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING or refund.stripe_refund_id:
        return refund
    order = refund.order
    if not order.stripe_payment_intent_id:
        if order.paid_via == Order.PaidVia.LOCAL:
            return refund_settle(refund_id=refund.pk, stripe_status="succeeded")
        logger.error("Refund %s: order %s has no Stripe payment to refund; settle it by hand", refund.pk, order.pk)
        return refund
    try:
        stripe_refund_id, stripe_status = stripe_gateway.refund_create(
            payment_intent_id=order.stripe_payment_intent_id,
            amount=refund.amount,
            idempotency_key=f"refund-{refund.pk}",
            metadata={"refund_id": str(refund.pk), "order_id": str(order.pk)},
        )
    except stripe_gateway.PaymentGatewayError:
        logger.warning("Refund %s did not reach Stripe; the reconciliation sends it again", refund.pk, exc_info=True)
        return refund
    return refund_settle(refund_id=refund.pk, stripe_status=stripe_status, stripe_refund_id=stripe_refund_id)


def refund_recheck(*, refund_id: int) -> str:
    """Asks Stripe how a refund it accepted ended, for when its webhook was lost."""
    refund = Refund.objects.get(pk=refund_id)
    if refund.status != Refund.Status.PENDING or not refund.stripe_refund_id:
        return "nothing to do"
    settled = refund_settle(refund_id=refund.pk, stripe_status=stripe_gateway.refund_retrieve(refund.stripe_refund_id))
    if settled.status == Refund.Status.PENDING:
        # Still on its way at Stripe: asked again after another REFUND_RECHECK_AFTER, not every run.
        Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now())
        return "refund still pending"
    return f"refund {settled.status}"


def refund_settle(*, refund_id: int, stripe_status: str, stripe_refund_id: str = "") -> Refund:
    """Applies what Stripe says of a refund: succeeded, failed, canceled, or still pending."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if stripe_refund_id and not refund.stripe_refund_id:
            refund.stripe_refund_id = stripe_refund_id
            refund.save(update_fields=["stripe_refund_id", "updated_at"])
        if refund.status != Refund.Status.PENDING:
            return refund
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        if stripe_status == "succeeded":
            refund.transition_to(Refund.Status.SUCCEEDED)
            if order.can_transition_to(Order.Status.REFUNDED):
                order.transition_to(Order.Status.REFUNDED)
        elif stripe_status in ("failed", "canceled"):
            refund.transition_to(Refund.Status.FAILED)
            if order.status == Order.Status.REFUND_PENDING:
                order.transition_to(Order.Status.PAID)
                if order.avatar_id:
                    # The money did not go back, so what it bought goes on.
                    avatar_services.avatar_refund_record(avatar_id=order.avatar_id, refunded=False)
            logger.error("Refund %s of order %s %s at Stripe: the money did not go back", refund.pk, order.pk, stripe_status)
        else:
            return refund
        refund.save(update_fields=["status", "updated_at"])
        order.save(update_fields=["status", "updated_at"])
    return refund


def refund_record_from_dashboard(*, order_id: int) -> None:
    """A refund an operator made in Stripe's dashboard, written down so our books agree."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if not order.can_transition_to(Order.Status.REFUNDED):
            return
        order.transition_to(Order.Status.REFUNDED)
        order.save(update_fields=["status", "updated_at"])
        if order.avatar_id:
            avatar_services.avatar_refund_record(avatar_id=order.avatar_id, refunded=True)
        refund = Refund(order=order, amount=order.amount, currency=order.currency, reason=gettext_noop("Refunded in Stripe's dashboard"))
        refund.transition_to(Refund.Status.SUCCEEDED)
        refund.save()


def refund_notify_user(*, refund_id: int) -> None:
    refund = Refund.objects.select_related("order__user").get(pk=refund_id)
    user = refund.order.user
    if user is None or not user.email:
        return
    mail_user(
        user=user,
        subject_template="orders/refund_email_subject.txt",
        body_template="orders/refund_email.txt",
        context={
            "order": refund.order,
            "reason": refund.reason,
            "local_payment": refund.order.paid_via == Order.PaidVia.LOCAL,
        },
    )
