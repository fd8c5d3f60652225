"""The reconciliation sweep: a lost webhook's payment fulfilled, expired sessions expired, Stripe down tried again."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from avatars.models import TrainingJob
from orders.models import Order
from orders.tasks import orders_reconcile_stale_checkouts
from tests.orders.conftest import gpu_tasks_queued
from tests.stripe_fake import post_webhook, stripe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def started_order(signed_in, ready_avatar, fake_stripe):
    signed_in.post(reverse("orders:checkout", args=[ready_avatar.public_id]))
    return Order.objects.get(avatar=ready_avatar)


def age(order, minutes: int):
    Order.objects.filter(pk=order.pk).update(checkout_started_at=timezone.now() - timedelta(minutes=minutes))


@pytest.fixture
def run_reconcile(django_capture_on_commit_callbacks):
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return orders_reconcile_stale_checkouts()

    return run


def test_an_order_paid_while_its_webhook_was_lost_is_fulfilled(
    started_order, fake_stripe, run_reconcile, client, settings, django_capture_on_commit_callbacks
):
    session = fake_stripe.session_pay(started_order.stripe_checkout_session_id)
    age(started_order, settings.LIKENESS_STALE_CHECKOUT_MINUTES + 1)

    assert run_reconcile() == {"fulfilled": 1}

    started_order.refresh_from_db()
    assert (started_order.status, started_order.paid_via) == (Order.Status.PAID, Order.PaidVia.RECONCILIATION)
    assert started_order.stripe_payment_intent_id == session["payment_intent"]
    assert TrainingJob.objects.filter(order=started_order).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        late = post_webhook(client, stripe_event("checkout.session.completed", session))
    assert late.content == b"order already paid: not fulfilled again"
    assert TrainingJob.objects.filter(order=started_order).count() == 1
    assert gpu_tasks_queued() == 1


def test_an_expired_session_expires_its_order(started_order, fake_stripe, run_reconcile):
    fake_stripe.session_expire(started_order.stripe_checkout_session_id)
    age(started_order, 60)

    assert run_reconcile() == {"order expired": 1}
    started_order.refresh_from_db()
    assert started_order.status == Order.Status.EXPIRED


def test_open_sessions_and_pending_bank_transfers_are_left_alone(started_order, fake_stripe, run_reconcile):
    age(started_order, 60)
    assert run_reconcile() == {"still open": 1}

    fake_stripe.session_pay(started_order.stripe_checkout_session_id, payment_status="unpaid")
    assert run_reconcile() == {"still open": 1}
    started_order.refresh_from_db()
    assert started_order.status == Order.Status.AWAITING_PAYMENT


def test_a_recent_checkout_is_not_asked_about(started_order, fake_stripe, run_reconcile):
    fake_stripe.session_pay(started_order.stripe_checkout_session_id)

    assert run_reconcile() == {}
    assert fake_stripe.requests_to("GET", f"/v1/checkout/sessions/{started_order.stripe_checkout_session_id}") == []


def test_stripe_being_down_is_tried_again_next_run(started_order, fake_stripe, run_reconcile):
    fake_stripe.session_pay(started_order.stripe_checkout_session_id)
    Order.objects.filter(pk=started_order.pk).update(stripe_checkout_session_id="cs_test_unknown_to_stripe")
    age(started_order, 60)

    assert run_reconcile() == {"gateway error": 1}
    started_order.refresh_from_db()
    assert started_order.status == Order.Status.AWAITING_PAYMENT


def test_reconciliation_is_scheduled_by_a_migration():
    schedule = Schedule.objects.get(func="orders.tasks.orders_reconcile_stale_checkouts")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 5, -1)
