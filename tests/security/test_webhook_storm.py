"""A storm of signed, duplicated, forged and stale Stripe webhooks over concurrent HTTP: each order paid once.

40 orders, each with its whole story of events (completed, the same event again, async
payment succeeded, expired, an unknown type, a forged signature, a replay with a stale
timestamp), all shuffled and POSTed by 8 threads to the live server on PostgreSQL.
"""

import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django_q.models import OrmQ

from avatars.models import TrainingJob
from orders.models import Order, StripeEvent
from tests.factories import AvatarFactory, OrderFactory, PhotoFactory
from tests.stripe_fake import (
    TEST_WEBHOOK_SECRET,
    WEBHOOK_PATH,
    checkout_session_object,
    stripe_event,
    webhook_signature,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ORDERS = 40
THREADS = 8
# Stripe's SDK refuses signatures older than five minutes.
STALE_SECONDS = 3600


@pytest.fixture(autouse=True)
def stripe_webhooks_only(settings):
    settings.STRIPE_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET
    settings.STRIPE_SECRET_KEY = "sk_test_storm_never_called"
    settings.LIKENESS_LOCAL_PAYMENTS = False
    settings.LIKENESS_RUN_JOBS_INLINE = False
    settings.LIKENESS_MIN_PHOTOS = 3


def order_story(order) -> list[dict]:
    """Every delivery one order's payment can bring: (body, signature header, what should come back)."""
    session = checkout_session_object(order, session_id=order.stripe_checkout_session_id)
    completed = stripe_event("checkout.session.completed", session)
    deliveries = [
        (completed, {}),
        (completed, {}),  # Stripe retries the same event id
        (stripe_event("checkout.session.async_payment_succeeded", session), {}),
        (
            stripe_event(
                "checkout.session.expired", {**session, "status": "expired", "payment_status": "unpaid"}
            ),
            {},
        ),
        (stripe_event("customer.created", {"id": "cus_storm", "object": "customer"}), {}),
        (stripe_event("checkout.session.completed", session), {"secret": "whsec_forged", "expect": 400}),
        (
            stripe_event("checkout.session.completed", session),
            {"timestamp": int(time.time()) - STALE_SECONDS, "expect": 400},
        ),
    ]
    stories = []
    for event, how in deliveries:
        body = json.dumps(event)
        signature = webhook_signature(
            body, secret=how.get("secret", TEST_WEBHOOK_SECRET), timestamp=how.get("timestamp")
        )
        stories.append(
            {"order": order.pk, "body": body, "signature": signature, "expect": how.get("expect", 200)}
        )
    return stories


def test_a_shuffled_storm_of_webhooks_pays_every_order_exactly_once(live_server):
    orders = []
    for index in range(ORDERS):
        avatar = AvatarFactory()
        PhotoFactory.create_batch(3, avatar=avatar)
        orders.append(
            OrderFactory(
                user=avatar.user,
                avatar=avatar,
                status=Order.Status.AWAITING_PAYMENT,
                stripe_checkout_session_id=f"cs_test_storm_{index:03d}",
            )
        )
    deliveries = [delivery for order in orders for delivery in order_story(order)]
    random.Random(20240601).shuffle(deliveries)
    url = live_server.url + WEBHOOK_PATH

    def deliver(delivery: dict) -> tuple[dict, int, str]:
        with requests.Session() as session:
            response = session.post(
                url,
                data=delivery["body"],
                timeout=60,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": delivery["signature"],
                },
            )
        return delivery, response.status_code, response.text

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        answers = list(pool.map(deliver, deliveries))

    wrong = [(d["order"], status, text) for d, status, text in answers if status != d["expect"]]
    assert wrong == []
    assert len(answers) == ORDERS * 7
    fulfilled = Counter(d["order"] for d, _, text in answers if text == "fulfilled")
    assert fulfilled == {order.pk: 1 for order in orders}
    assert sorted(Order.objects.values_list("status", flat=True)) == [Order.Status.PAID] * ORDERS
    assert sorted(TrainingJob.objects.values_list("order_id", flat=True)) == sorted(o.pk for o in orders)
    assert OrmQ.objects.filter(key="gpu").count() == ORDERS
    # Every signed event is written down once (the retried one once); forged and stale ones never.
    assert StripeEvent.objects.count() == ORDERS * 4
    assert Counter(StripeEvent.objects.values_list("type", flat=True)) == {
        "checkout.session.completed": ORDERS,
        "checkout.session.async_payment_succeeded": ORDERS,
        "checkout.session.expired": ORDERS,
        "customer.created": ORDERS,
    }
