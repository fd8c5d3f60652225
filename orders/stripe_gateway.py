"""The one door to Stripe: nothing else in Likeness imports the SDK.

Every function returns plain Python values and raises only our own exceptions,
so the services never see a Stripe object or a Stripe error.
"""

from dataclasses import dataclass
from functools import lru_cache

import stripe
from django.conf import settings
from django.utils.translation import gettext

from portrait_site.core.errors import ApplicationError


class PaymentGatewayError(ApplicationError):
    """Stripe refused a request or could not be reached. str() is the detail for the logs;
    .message is the sentence a person is shown (page or API), which never carries Stripe's text."""

    code = "payment_unavailable"
    http_status = 503

    def __init__(self, detail: str):
        super().__init__(gettext("The payment page could not be opened just now. Please try again in a minute."))
        self.args = (detail,)


class WebhookPayloadRejected(PaymentGatewayError):
    """A webhook whose signature, timestamp or body does not hold up."""


@dataclass(frozen=True)
class CheckoutSessionState:
    session_id: str
    status: str  # open, complete, expired
    payment_status: str  # paid, unpaid, no_payment_required
    payment_intent_id: str


# Retries are safe: every write carries an idempotency key.
NETWORK_RETRIES = 2

# Every request names the API version it was written against, so upgrading the SDK cannot change
# what Stripe sends back. It is the version the SDK's major targets (stripe/_api_version.py in
# stripe 16.x), and pyproject.toml caps the SDK at that major: move both together, after reading
# Stripe's changelog for the versions in between. Webhook endpoints are set to the same version.
STRIPE_API_VERSION = "2026-10-28.endive"


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    base_addresses = {"api": api_base} if api_base else None
    return stripe.StripeClient(
        api_key, stripe_version=STRIPE_API_VERSION, base_addresses=base_addresses,
        max_network_retries=NETWORK_RETRIES,
    )


def _stripe() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise PaymentGatewayError("STRIPE_SECRET_KEY is not set")
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


# The currencies each wallet can be paid in on Checkout (Stripe's "presentment currencies" on
# docs.stripe.com/payments/wechat-pay/accept-a-payment and .../alipay/accept-a-payment). A card
# takes any currency; a method not named here is passed to Stripe as configured.
PAYMENT_METHOD_CURRENCIES = {
    "wechat_pay": {"aud", "cad", "cny", "eur", "gbp", "hkd", "jpy", "sgd", "usd", "dkk", "nok", "sek", "chf"},
    "alipay": {"aud", "cad", "cny", "eur", "gbp", "hkd", "jpy", "nzd", "sgd", "usd", "myr"},
}


def checkout_payment_methods(currency: str) -> list[str]:
    """The payment methods of settings.LIKENESS_PAYMENT_METHODS that Checkout offers in this
    currency: WeChat Pay and Alipay only where Stripe takes them in it."""
    currency = currency.lower()
    return [
        method for method in settings.LIKENESS_PAYMENT_METHODS
        if currency in PAYMENT_METHOD_CURRENCIES.get(method, {currency})
    ]


def checkout_session_create(
    *, order, success_url: str, cancel_url: str, idempotency_key: str, expires_at: int
) -> tuple[str, str]:
    """A hosted Checkout page for one order; returns (session id, page URL)."""
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": order.currency,
                    "unit_amount": order.amount,
                    "product_data": {"name": order.get_product_display()},
                },
            }
        ],
        "client_reference_id": str(order.pk),
        "metadata": {"order_id": str(order.pk), "avatar_id": str(order.avatar_id)},
        "payment_intent_data": {"metadata": {"order_id": str(order.pk)}},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": expires_at,
    }
    methods = checkout_payment_methods(order.currency)
    if methods:
        params["payment_method_types"] = methods
    if "wechat_pay" in methods:
        # Checkout shows WeChat Pay's QR code in the browser; Stripe requires the client named.
        params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
    if order.user_id and order.user.email:
        params["customer_email"] = order.user.email
    try:
        session = _stripe().v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})
    except stripe.StripeError as error:
        raise PaymentGatewayError(f"checkout session for order {order.pk}: {error}") from error
    return session.id, session.url


def checkout_session_retrieve(session_id: str) -> CheckoutSessionState:
    try:
        session = _stripe().v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError as error:
        raise PaymentGatewayError(f"checkout session {session_id}: {error}") from error
    fields = session.to_dict()
    payment_intent = fields.get("payment_intent") or ""
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent["id"]
    return CheckoutSessionState(
        session_id=fields["id"],
        status=fields.get("status") or "",
        payment_status=fields.get("payment_status") or "",
        payment_intent_id=payment_intent,
    )


def refund_create(
    *, payment_intent_id: str, amount: int, idempotency_key: str, metadata: dict[str, str]
) -> tuple[str, str]:
    """Returns (refund id, status): pending, succeeded, failed, canceled or requires_action."""
    try:
        refund = _stripe().v1.refunds.create(
            {"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
            {"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise PaymentGatewayError(f"refund of {payment_intent_id}: {error}") from error
    return refund.id, refund.status


def refund_retrieve(refund_id: str) -> str:
    """The refund's status at Stripe: pending, succeeded, failed, canceled or requires_action."""
    try:
        refund = _stripe().v1.refunds.retrieve(refund_id)
    except stripe.StripeError as error:
        raise PaymentGatewayError(f"refund {refund_id}: {error}") from error
    return refund.status


def webhook_event_construct(payload: bytes, sig_header: str) -> dict:
    """The verified event as a plain dict; raises WebhookPayloadRejected otherwise."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise WebhookPayloadRejected("STRIPE_WEBHOOK_SECRET is not set")
    try:
        event = stripe.Webhook.construct_event(payload, sig_header, settings.STRIPE_WEBHOOK_SECRET)
    except stripe.SignatureVerificationError as error:
        raise WebhookPayloadRejected(str(error)) from error
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as error:
        raise WebhookPayloadRejected(f"malformed payload: {error}") from error
    event_dict = event.to_dict()
    if not isinstance(event_dict.get("id"), str) or not isinstance(event_dict.get("type"), str):
        raise WebhookPayloadRejected("an event needs an id and a type")
    return event_dict
