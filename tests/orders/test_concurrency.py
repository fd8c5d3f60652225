"""The same payment reported from several places at once still fulfils once (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection
from django.test import Client

from avatars.models import TrainingJob
from orders.models import Order, StripeEvent
from orders.services import order_reconcile
from tests.factories import AvatarFactory, OrderFactory, PhotoFactory, UserFactory
from tests.orders.conftest import REQUIRED_PHOTOS, gpu_tasks_queued
from tests.stripe_fake import checkout_session_object, post_webhook, stripe_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def run_together(calls) -> list:
    """Runs each call in its own thread and database connection, all released at once."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - reported to the test below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def order(fake_stripe):
    avatar = AvatarFactory(user=UserFactory())
    PhotoFactory.create_batch(REQUIRED_PHOTOS, avatar=avatar)
    return OrderFactory(
        user=avatar.user, avatar=avatar, status=Order.Status.AWAITING_PAYMENT, stripe_checkout_session_id="cs_test_race"
    )


def test_one_event_delivered_by_several_threads_at_once_fulfils_once(order):
    event = stripe_event("checkout.session.completed", checkout_session_object(order))

    responses = run_together([lambda: post_webhook(Client(), event) for _ in range(THREADS)])

    assert sorted(r.content for r in responses) == [b"duplicate"] * (THREADS - 1) + [b"fulfilled"]
    assert StripeEvent.objects.count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert TrainingJob.objects.filter(order=order).count() == 1
    assert gpu_tasks_queued() == 1


def test_webhooks_and_reconciliation_racing_for_one_payment_fulfil_once(order, fake_stripe):
    fake_stripe.sessions["cs_test_race"] = {**checkout_session_object(order), "payment_intent": "pi_test_race"}
    session = fake_stripe.sessions["cs_test_race"]
    completed = [stripe_event("checkout.session.completed", session) for _ in range(3)]
    succeeded = [stripe_event("checkout.session.async_payment_succeeded", session) for _ in range(3)]
    calls = [lambda e=e: post_webhook(Client(), e).content for e in completed + succeeded]
    calls += [lambda: order_reconcile(order_id=order.pk) for _ in range(2)]

    results = run_together(calls)

    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(r in (b"fulfilled", "fulfilled") for r in results) == 1
    assert StripeEvent.objects.count() == 6
    assert TrainingJob.objects.filter(order=order).count() == 1
    assert gpu_tasks_queued() == 1
