"""Stripe's webhook: verify the signature on the raw body, apply the event, answer fast."""

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.services import webhook_event_process
from orders.stripe_gateway import WebhookPayloadRejected, webhook_event_construct

logger = logging.getLogger(__name__)


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
