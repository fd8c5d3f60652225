"""Refunds: written down then sent with their own idempotency key, the customer told, Stripe's word confirming them."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.models import Order, Refund
from orders.services import OrderNotAllowed, order_refund, orders_reconcile
from tests.factories import OrderFactory
from tests.stripe_fake import post_webhook, stripe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(user):
    return OrderFactory(
        user=user, status=Order.Status.PAID, paid_via=Order.PaidVia.WEBHOOK, paid_at=timezone.now(),
        stripe_checkout_session_id="cs_test_paid", stripe_payment_intent_id="pi_test_paid",
    )


@pytest.fixture
def refund(paid_order, fake_stripe, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=paid_order, reason="Avatar training failed")
    refund.refresh_from_db()
    return refund


def refund_event(event_type: str, refund: Refund, status: str) -> dict:
    return stripe_event(event_type, {
        "id": refund.stripe_refund_id, "object": "refund", "status": status, "amount": refund.amount,
        "payment_intent": refund.order.stripe_payment_intent_id,
        "metadata": {"refund_id": str(refund.pk), "order_id": str(refund.order_id)},
    })


def test_a_refund_is_written_down_then_sent_with_its_own_idempotency_key(refund, paid_order, fake_stripe):
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.REFUND_PENDING
    assert (refund.status, refund.amount, refund.currency) == (Refund.Status.PENDING, 990, "cny")
    [request] = fake_stripe.refund_requests
    assert request.idempotency_key == f"refund-{refund.pk}"
    assert request.form == {
        "payment_intent": "pi_test_paid", "amount": "990",
        "metadata[refund_id]": str(refund.pk), "metadata[order_id]": str(paid_order.pk),
    }
    assert refund.stripe_refund_id in fake_stripe.refunds


def test_the_user_is_told_the_money_is_on_its_way_back(refund, paid_order):
    [message] = mail.outbox
    assert message.to == [paid_order.user.email]
    assert "on its way back" in message.subject
    assert "¥9.90" in message.body and "Avatar training failed" in message.body


def test_charge_refunded_confirms_the_refund(refund, paid_order, client, fake_stripe):
    event = stripe_event("charge.refunded", {
        "id": "ch_test_1", "object": "charge", "payment_intent": "pi_test_paid", "refunded": True,
        "amount_refunded": 990,
    })

    response = post_webhook(client, event)

    assert (response.status_code, response.content) == (200, b"order refunded")
    refund.refresh_from_db()
    paid_order.refresh_from_db()
    assert (refund.status, paid_order.status) == (Refund.Status.SUCCEEDED, Order.Status.REFUNDED)


def test_a_partial_charge_refund_changes_nothing(refund, paid_order, client, fake_stripe):
    event = stripe_event("charge.refunded", {"id": "ch_test_1", "object": "charge", "payment_intent": "pi_test_paid",
                                             "refunded": False, "amount_refunded": 100})

    assert post_webhook(client, event).content == b"partial refund: no change"
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_refund_updated_to_succeeded_confirms_the_refund(refund, paid_order, client, fake_stripe):
    response = post_webhook(client, refund_event("refund.updated", refund, "succeeded"))

    assert response.content == b"refund succeeded"
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.REFUNDED


def test_a_failed_refund_puts_the_order_back_to_paid_and_a_new_refund_can_follow(
    refund, paid_order, client, fake_stripe, django_capture_on_commit_callbacks
):
    response = post_webhook(client, refund_event("refund.failed", refund, "failed"))

    assert response.content == b"refund failed"
    refund.refresh_from_db()
    paid_order.refresh_from_db()
    assert (refund.status, paid_order.status) == (Refund.Status.FAILED, Order.Status.PAID)
    with django_capture_on_commit_callbacks(execute=True):
        second = order_refund(order=paid_order, reason="Second try")
    assert second.pk != refund.pk
    assert fake_stripe.refund_requests[-1].idempotency_key == f"refund-{second.pk}"


def test_a_second_refund_call_returns_the_refund_under_way(refund, paid_order, fake_stripe):
    again = order_refund(order=paid_order, reason="Clicked twice")

    assert again.pk == refund.pk
    assert Refund.objects.count() == 1
    assert len(fake_stripe.refund_requests) == 1


def test_an_unpaid_order_cannot_be_refunded(fake_stripe, user):
    order = OrderFactory(user=user, status=Order.Status.AWAITING_PAYMENT)

    with pytest.raises(OrderNotAllowed, match="not paid: there is nothing to refund"):
        order_refund(order=order, reason="Mistake")

    assert not Refund.objects.exists()
    assert fake_stripe.requests == []
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_a_refund_stripe_settles_at_once_is_confirmed_at_once(fake_stripe, paid_order, django_capture_on_commit_callbacks):
    fake_stripe.refund_status = "succeeded"

    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=paid_order, reason="Avatar training failed")

    refund.refresh_from_db()
    paid_order.refresh_from_db()
    assert (refund.status, paid_order.status) == (Refund.Status.SUCCEEDED, Order.Status.REFUNDED)


def test_a_refund_stripe_never_heard_of_is_resent_under_the_same_key(
    fake_stripe, paid_order, django_capture_on_commit_callbacks
):
    fake_stripe.fail_next(3)
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=paid_order, reason="Avatar training failed")
    assert (refund.status, refund.stripe_refund_id) == (Refund.Status.PENDING, "")

    assert orders_reconcile(now=timezone.now() + timedelta(minutes=5)) == {"refund resent": 1}

    refund.refresh_from_db()
    assert refund.stripe_refund_id in fake_stripe.refunds
    assert {r.idempotency_key for r in fake_stripe.refund_requests} == {f"refund-{refund.pk}"}


def test_a_refund_rolled_back_with_its_caller_never_reaches_stripe(fake_stripe, paid_order, django_capture_on_commit_callbacks):
    from django.db import transaction

    class CallerFailed(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CallerFailed):
        with transaction.atomic():
            order_refund(order=paid_order, reason="Avatar training failed")
            raise CallerFailed

    assert not Refund.objects.exists()
    assert fake_stripe.refund_requests == []


def test_a_refund_made_in_stripes_dashboard_is_written_down(fake_stripe, paid_order, client):
    event = stripe_event("charge.refunded", {"id": "ch_test_1", "object": "charge", "payment_intent": "pi_test_paid",
                                             "refunded": True, "amount_refunded": 990})

    post_webhook(client, event)

    paid_order.refresh_from_db()
    [refund] = paid_order.refunds.all()
    assert (paid_order.status, refund.status) == (Order.Status.REFUNDED, Refund.Status.SUCCEEDED)
    assert fake_stripe.refund_requests == []


def test_a_local_test_payment_is_refunded_without_stripe(local_payments, user, django_capture_on_commit_callbacks):
    order = OrderFactory(user=user, status=Order.Status.PAID, paid_via=Order.PaidVia.LOCAL)

    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=order, reason="Avatar training failed")

    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, order.status) == (Refund.Status.SUCCEEDED, Order.Status.REFUNDED)
    assert "no real money" in mail.outbox[0].body


def sent_ago(refund: Refund, minutes: int) -> None:
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))


def test_a_refund_whose_webhook_was_lost_is_settled_by_asking_stripe(refund, paid_order, fake_stripe):
    fake_stripe.refunds[refund.stripe_refund_id]["status"] = "succeeded"  # and the webhook never came
    sent_ago(refund, 10)
    assert orders_reconcile() == {}  # too early: the webhook may still be on its way

    sent_ago(refund, 31)
    assert orders_reconcile() == {"refund succeeded": 1}

    refund.refresh_from_db()
    paid_order.refresh_from_db()
    assert (refund.status, paid_order.status) == (Refund.Status.SUCCEEDED, Order.Status.REFUNDED)
    assert orders_reconcile(now=timezone.now() + timedelta(hours=1)) == {}


def test_a_refund_that_failed_at_stripe_unseen_puts_the_order_back_to_paid(refund, paid_order, fake_stripe):
    fake_stripe.refunds[refund.stripe_refund_id]["status"] = "failed"
    sent_ago(refund, 31)

    assert orders_reconcile() == {"refund failed": 1}

    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.PAID


def test_a_refund_still_pending_at_stripe_is_asked_about_again_half_an_hour_later(refund, fake_stripe):
    sent_ago(refund, 31)
    assert orders_reconcile() == {"refund still pending": 1}
    assert orders_reconcile() == {}  # not at every run
    assert orders_reconcile(now=timezone.now() + timedelta(minutes=31)) == {"refund still pending": 1}
    asked = fake_stripe.requests_to("GET", f"/v1/refunds/{refund.stripe_refund_id}")
    assert len(asked) == 2


def test_stripe_not_knowing_a_refund_is_tried_again_next_run(refund, fake_stripe):
    del fake_stripe.refunds[refund.stripe_refund_id]
    sent_ago(refund, 31)

    assert orders_reconcile() == {"gateway error": 1}
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_a_failed_builds_refund_that_raised_on_its_first_call_is_made_by_the_reconciliation(
    paid_order, fake_stripe, monkeypatch, django_capture_on_commit_callbacks
):
    from django.utils.module_loading import import_string
    from django_q.models import OrmQ

    from avatars.gpu.jobs import jobs_requeue_stale
    from avatars.models import Avatar, RenderJob
    from orders import services
    from tests.factories import RenderJobFactory, TrainingJobFactory

    Avatar.objects.filter(pk=paid_order.avatar_id).update(status=Avatar.Status.READY)
    TrainingJobFactory(avatar=paid_order.avatar, order=paid_order, status="succeeded", attempts=1)
    RenderJobFactory(avatar=paid_order.avatar, kind=RenderJob.Kind.INITIAL, status="running", attempts=3,
                     max_attempts=3, heartbeat_at=timezone.now() - timedelta(hours=1))
    jobs_requeue_stale()
    [report] = [queued.task for queued in OrmQ.objects.filter(key="default")]

    calls = []
    real_order_refund = services.order_refund

    def refund_failing_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise ConnectionError("the database went away before the refund row was written")
        return real_order_refund(**kwargs)

    monkeypatch.setattr(services, "order_refund", refund_failing_once)
    with pytest.raises(ConnectionError):
        import_string(report["func"])(*report["args"])
    assert not Refund.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = orders_reconcile()

    assert outcomes["failed build refunded"] == 1
    [refund] = Refund.objects.all()
    assert (refund.order_id, refund.reason) == (paid_order.pk, "No portrait could be rendered")
    assert len(fake_stripe.refund_requests) == 1
    # Refunded once: the next run finds nothing to do.
    assert "failed build refunded" not in orders_reconcile()


def test_a_refund_ends_what_was_bought_on_the_website_and_the_api(
    paid_order, fake_stripe, client, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    from avatars.models import Avatar, RenderJob
    from tests.factories import PortraitFactory, StyleTemplateFactory

    Avatar.objects.filter(pk=paid_order.avatar_id).update(status=Avatar.Status.READY)
    portrait = PortraitFactory(avatar=paid_order.avatar)
    StyleTemplateFactory(is_published=True, slug="more")
    with django_capture_on_commit_callbacks(execute=True):
        order_refund(order=paid_order, reason="Refunded at the customer's request")
    owner = paid_order.user
    client.force_login(owner)
    api = APIClient()
    api.force_authenticate(owner)

    page = client.post(f"/avatars/portraits/{portrait.public_id}/reroll/", follow=True).content.decode()
    rerolled = api.post(f"/api/v1/portraits/{portrait.public_id}/reroll/")
    more = api.post(f"/api/v1/avatars/{paid_order.avatar.public_id}/render-more/", {"templates": ["more"]}, format="json")

    assert "payment was refunded" in page
    assert (rerolled.status_code, rerolled.json()["error"]["code"]) == (409, "avatar_state")
    assert more.status_code == 409 and "refunded" in more.json()["error"]["message"]
    assert not RenderJob.objects.exists()
    # The finished portrait stays the customer's.
    assert client.get(f"/avatars/portraits/{portrait.public_id}/download/").status_code == 200
