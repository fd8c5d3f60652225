"""Stripe's webhook: verify the signature on the raw body, apply the event once, answer fast.

The view and the handler for each event type live here, as Saleor keeps them; what they do
to orders and refunds is orders.services.
"""

import logging

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.models import Order, Refund, StripeEvent
from orders.selectors import order_find_for_checkout_session, refund_find_for_stripe_refund
from orders.services import (
    SESSION_PAID,
    order_close,
    order_fulfil_once,
    refund_record_from_dashboard,
    refund_settle,
)
from orders.stripe_gateway import WebhookPayloadRejected, webhook_event_construct

logger = logging.getLogger(__name__)

DUPLICATE = "duplicate"


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = webhook_event_construct(request.body, request.headers.get("Stripe-Signature", ""))
    except WebhookPayloadRejected as error:
        logger.warning("Stripe webhook refused: %s", error)
        return HttpResponse("invalid payload or signature", status=400, content_type="text/plain")
    outcome = webhook_event_process(event=event)
    logger.info("Stripe event %s (%s): %s", event["id"], event["type"], outcome)
    return HttpResponse(outcome, content_type="text/plain")


def webhook_event_process(*, event: dict) -> str:
    """Applies one verified Stripe event exactly once; returns the outcome recorded with it."""
    handler = EVENT_HANDLERS.get(event["type"], _event_not_handled)
    stripe_object = (event.get("data") or {}).get("object") or {}
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(event_id=event["id"], type=event["type"][:100])
        except IntegrityError:
            return DUPLICATE
        order, outcome = handler(stripe_object)
        record.order = order
        record.outcome = outcome[:200]
        record.save(update_fields=["order", "outcome"])
    return outcome


def _id_of(value) -> str:
    """Stripe sends a related object as its id, or expanded as a dict."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _session_order(session: dict) -> Order | None:
    order = order_find_for_checkout_session(session=session)
    if order is None:
        logger.warning("Stripe Checkout Session %s belongs to no order of ours", session.get("id"))
    return order


def _session_fulfil(session: dict) -> tuple[Order | None, str]:
    order = _session_order(session)
    if order is None:
        return None, "unknown order"
    order, fulfilled = order_fulfil_once(
        order_id=order.pk,
        checkout_session_id=session.get("id") or "",
        payment_intent_id=_id_of(session.get("payment_intent")),
        via=Order.PaidVia.WEBHOOK,
    )
    if fulfilled:
        return order, "fulfilled"
    return order, f"order already {order.status}: not fulfilled again"


def _on_checkout_session_completed(session: dict) -> tuple[Order | None, str]:
    if session.get("payment_status") in SESSION_PAID:
        return _session_fulfil(session)
    order = _session_order(session)
    if order is None:
        return None, "unknown order"
    return order, "awaiting asynchronous payment"


def _on_checkout_session_closed(status: str):
    def handle(session: dict) -> tuple[Order | None, str]:
        order = _session_order(session)
        if order is None:
            return None, "unknown order"
        return order_close(order_id=order.pk, checkout_session_id=session.get("id") or "", status=status)

    return handle


def _on_charge_refunded(charge: dict) -> tuple[Order | None, str]:
    order = Order.objects.filter(stripe_payment_intent_id=_id_of(charge.get("payment_intent")) or "-").first()
    if order is None:
        return None, "unknown payment"
    if not charge.get("refunded"):
        return order, "partial refund: no change"
    pending = list(order.refunds.filter(status=Refund.Status.PENDING).values_list("pk", flat=True))
    for refund_id in pending:
        refund_settle(refund_id=refund_id, stripe_status="succeeded")
    if not pending:
        refund_record_from_dashboard(order_id=order.pk)
    order.refresh_from_db()
    return order, f"order {order.status}"


def _on_refund_changed(stripe_refund: dict) -> tuple[Order | None, str]:
    refund = refund_find_for_stripe_refund(stripe_refund=stripe_refund)
    if refund is None:
        return None, "unknown refund"
    refund = refund_settle(
        refund_id=refund.pk, stripe_status=stripe_refund.get("status") or "", stripe_refund_id=stripe_refund.get("id") or ""
    )
    return refund.order, f"refund {refund.status}"


def _event_not_handled(stripe_object: dict) -> tuple[Order | None, str]:
    return None, "not handled"


# The events this endpoint subscribes to, and the one place they are named: set the Stripe
# dashboard's webhook endpoint to exactly these keys (and to the gateway's STRIPE_API_VERSION).
EVENT_HANDLERS = {
    "checkout.session.completed": _on_checkout_session_completed,
    "checkout.session.async_payment_succeeded": _session_fulfil,
    "checkout.session.async_payment_failed": _on_checkout_session_closed(Order.Status.PAYMENT_FAILED),
    "checkout.session.expired": _on_checkout_session_closed(Order.Status.EXPIRED),
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund_changed,
    "refund.updated": _on_refund_changed,
    "refund.failed": _on_refund_changed,
    "charge.refund.updated": _on_refund_changed,
}
