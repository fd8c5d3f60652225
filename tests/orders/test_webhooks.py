"""Stripe's webhook: signed events only, each fulfilling its order once, whatever the order and repeats of delivery."""

import json
import time

import pytest
from django.core import mail

from avatars.models import Avatar, TrainingJob
from orders.models import Order, Refund, StripeEvent
from tests.factories import OrderFactory, PhotoFactory
from tests.orders.conftest import REQUIRED_PHOTOS, gpu_tasks_queued
from tests.stripe_fake import (
    WEBHOOK_PATH,
    checkout_session_object,
    post_webhook,
    stripe_event,
    webhook_signature,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(ready_avatar):
    return OrderFactory(
        user=ready_avatar.user, avatar=ready_avatar, status=Order.Status.AWAITING_PAYMENT,
        stripe_checkout_session_id="cs_test_awaiting",
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Posts a signed event and runs what the request queued on commit, as a real server would."""

    def deliver(event, **signing):
        with django_capture_on_commit_callbacks(execute=True):
            return post_webhook(client, event, **signing)

    return deliver


def completed(order, **session_fields) -> dict:
    return stripe_event("checkout.session.completed", checkout_session_object(order, **session_fields))


def assert_fulfilled_once(order):
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert TrainingJob.objects.filter(order=order).count() == 1
    assert gpu_tasks_queued() == 1


def assert_untouched(order):
    status = order.status
    order.refresh_from_db()
    assert order.status == status
    assert not TrainingJob.objects.exists()
    assert gpu_tasks_queued() == 0


def test_a_paid_checkout_fulfils_the_order_and_queues_its_training(fake_stripe, deliver, order):
    event = completed(order, payment_intent="pi_test_paid")

    response = deliver(event)

    assert response.status_code == 200
    assert response.content == b"fulfilled"
    assert_fulfilled_once(order)
    assert (order.paid_via, order.stripe_payment_intent_id) == (Order.PaidVia.WEBHOOK, "pi_test_paid")
    assert order.paid_at is not None
    assert Avatar.objects.get(pk=order.avatar_id).status == Avatar.Status.PAID
    record = StripeEvent.objects.get(event_id=event["id"])
    assert (record.type, record.order, record.outcome) == ("checkout.session.completed", order, "fulfilled")


@pytest.mark.parametrize(
    "signing",
    [
        pytest.param({"signature": "t=1700000000,v1=" + "0" * 64}, id="forged signature"),
        pytest.param({"signature": ""}, id="no signature"),
        pytest.param({"secret": "whsec_someone_else"}, id="wrong secret"),
        pytest.param({"timestamp": int(time.time()) - 301}, id="stale timestamp"),
    ],
)
def test_an_event_that_stripe_did_not_sign_now_is_refused(fake_stripe, deliver, order, signing):
    response = deliver(completed(order), **signing)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert_untouched(order)


def test_a_signature_over_a_different_body_is_refused(fake_stripe, client, order):
    genuine = json.dumps(completed(order, payment_status="unpaid"))
    tampered = genuine.replace('"unpaid"', '"paid"')

    response = client.post(
        WEBHOOK_PATH, data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=webhook_signature(genuine)
    )

    assert response.status_code == 400
    assert_untouched(order)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed JSON"),
        pytest.param(b"\xff\xfe", id="not UTF-8"),
        pytest.param(b"[1, 2]", id="not an object"),
        pytest.param(b'{"object": "event", "data": {}}', id="no id or type"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested 100000 deep"),
    ],
)
def test_a_signed_but_malformed_body_is_refused(fake_stripe, client, order, body):
    signature = webhook_signature(body.decode("latin-1")) if body == b"\xff\xfe" else webhook_signature(body)

    response = client.post(WEBHOOK_PATH, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_without_a_webhook_secret_every_event_is_refused(fake_stripe, settings, deliver, order):
    settings.STRIPE_WEBHOOK_SECRET = ""

    assert deliver(completed(order)).status_code == 400
    assert_untouched(order)


def test_the_webhook_answers_only_post(fake_stripe, client):
    assert client.get(WEBHOOK_PATH).status_code == 405


def test_an_unknown_event_type_is_recorded_and_acknowledged(fake_stripe, deliver, order):
    event = stripe_event("customer.created", {"id": "cus_test_1", "object": "customer"})

    response = deliver(event)

    assert (response.status_code, response.content) == (200, b"not handled")
    assert StripeEvent.objects.get(event_id=event["id"]).outcome == "not handled"
    assert_untouched(order)


@pytest.mark.parametrize("deliveries", [2, 10])
def test_the_same_event_delivered_again_fulfils_once(fake_stripe, deliver, order, deliveries):
    event = completed(order)

    responses = [deliver(event) for _ in range(deliveries)]

    assert [r.status_code for r in responses] == [200] * deliveries
    assert [r.content for r in responses] == [b"fulfilled"] + [b"duplicate"] * (deliveries - 1)
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert_fulfilled_once(order)


def test_two_events_for_one_payment_fulfil_once(fake_stripe, deliver, order):
    session = checkout_session_object(order)

    first = deliver(stripe_event("checkout.session.completed", session))
    second = deliver(stripe_event("checkout.session.async_payment_succeeded", session))

    assert first.content == b"fulfilled"
    assert second.content == b"order already paid: not fulfilled again"
    assert StripeEvent.objects.count() == 2
    assert_fulfilled_once(order)


def test_completed_arriving_before_anything_else_fulfils(fake_stripe, deliver, ready_avatar):
    order = OrderFactory(user=ready_avatar.user, avatar=ready_avatar)
    assert order.status == Order.Status.PENDING

    response = deliver(completed(order, session_id="cs_test_never_seen"))

    assert response.content == b"fulfilled"
    assert_fulfilled_once(order)
    assert order.stripe_checkout_session_id == "cs_test_never_seen"


def test_late_expired_and_failed_events_leave_a_paid_order_paid(fake_stripe, deliver, order):
    session = checkout_session_object(order)
    deliver(stripe_event("checkout.session.completed", session))

    expired = deliver(stripe_event("checkout.session.expired", {**session, "status": "expired"}))
    failed = deliver(stripe_event("checkout.session.async_payment_failed", session))

    assert (expired.status_code, failed.status_code) == (200, 200)
    assert expired.content == failed.content == b"order paid: no change"
    assert_fulfilled_once(order)


def test_a_completed_session_for_no_order_of_ours_is_recorded_not_failed(fake_stripe, deliver, order):
    session = checkout_session_object(order, session_id="cs_test_foreign")
    session.update(client_reference_id="999999", metadata={"order_id": "999999"})
    event = stripe_event("checkout.session.completed", session)

    response = deliver(event)

    assert (response.status_code, response.content) == (200, b"unknown order")
    record = StripeEvent.objects.get(event_id=event["id"])
    assert record.order is None
    assert_untouched(order)


def test_a_session_without_any_reference_is_recorded_not_failed(fake_stripe, deliver):
    event = stripe_event("checkout.session.completed", {"object": "checkout.session", "payment_status": "paid"})

    assert deliver(event).content == b"unknown order"
    assert StripeEvent.objects.filter(event_id=event["id"]).exists()


def test_completed_for_a_refunded_order_is_recorded_but_not_fulfilled(fake_stripe, deliver, order):
    order.status = Order.Status.REFUNDED
    order.save()
    event = completed(order)

    response = deliver(event)

    assert response.content == b"order already refunded: not fulfilled again"
    assert StripeEvent.objects.get(event_id=event["id"]).order == order
    assert_untouched(order)


def test_an_asynchronous_payment_waits_then_succeeds(fake_stripe, deliver, order):
    session = checkout_session_object(order, payment_status="unpaid", payment_intent="pi_test_transfer")

    waiting = deliver(stripe_event("checkout.session.completed", session))
    assert waiting.content == b"awaiting asynchronous payment"
    assert_untouched(order)

    deliver(stripe_event("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"}))
    assert_fulfilled_once(order)


def test_an_asynchronous_payment_that_fails_marks_the_order_failed(fake_stripe, deliver, order):
    session = checkout_session_object(order, payment_status="unpaid")
    deliver(stripe_event("checkout.session.completed", session))

    response = deliver(stripe_event("checkout.session.async_payment_failed", session))

    assert response.content == b"order payment_failed"
    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert not TrainingJob.objects.exists()


def test_an_expired_session_expires_its_unpaid_order(fake_stripe, deliver, order):
    session = checkout_session_object(order, payment_status="unpaid", status="expired")

    assert deliver(stripe_event("checkout.session.expired", session)).content == b"order expired"
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED


def test_an_older_session_expiring_leaves_the_order_on_its_newer_session(fake_stripe, deliver, order):
    old_session = checkout_session_object(order, payment_status="unpaid", status="expired", session_id="cs_test_old")

    assert deliver(stripe_event("checkout.session.expired", old_session)).content == b"superseded session: no change"
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_a_payment_for_a_deleted_avatar_goes_back_automatically(fake_stripe, deliver, order):
    Avatar.objects.filter(pk=order.avatar_id).delete()

    response = deliver(completed(order, payment_intent="pi_test_orphan"))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.REFUND_PENDING
    assert not TrainingJob.objects.exists()
    [refund] = Refund.objects.filter(order=order)
    [request] = fake_stripe.refund_requests
    assert request.idempotency_key == f"refund-{refund.pk}"
    assert request.form["payment_intent"] == "pi_test_orphan"
    assert len(mail.outbox) == 1


def test_a_second_order_paid_for_an_avatar_already_paid_is_refunded(fake_stripe, deliver, order):
    deliver(completed(order))
    second = OrderFactory(user=order.user, avatar=order.avatar, status=Order.Status.EXPIRED)

    deliver(completed(second, session_id="cs_test_second", payment_intent="pi_test_second"))

    second.refresh_from_db()
    assert second.status == Order.Status.REFUND_PENDING
    assert fake_stripe.refund_requests[0].form["payment_intent"] == "pi_test_second"
    assert TrainingJob.objects.get().order == order
    assert gpu_tasks_queued() == 1


def test_enough_photos_is_only_a_checkout_rule_not_a_fulfilment_one(fake_stripe, deliver, order):
    assert order.avatar.photos.count() == REQUIRED_PHOTOS
    PhotoFactory(avatar=order.avatar, status="rejected")

    deliver(completed(order))

    assert_fulfilled_once(order)


@pytest.mark.parametrize("wallet", ["wechat_pay", "alipay"])
def test_a_checkout_paid_with_a_chinese_wallet_fulfils_the_order_the_same_way(fake_stripe, deliver, order, wallet):
    response = deliver(completed(order, payment_method_types=["card", "wechat_pay", "alipay"]))

    assert response.status_code == 200
    assert_fulfilled_once(order)
