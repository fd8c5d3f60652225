"""The orders admin: its pinned queries, filters and search, the order page, and the operator's refund with its reason."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, Refund
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def operator(client):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    return client


def paid_order(**fields) -> Order:
    return OrderFactory(
        status=Order.Status.PAID, paid_at=timezone.now(), paid_via=Order.PaidVia.WEBHOOK,
        stripe_payment_intent_id=f"pi_test_{Order.objects.count()}", **fields,
    )


@pytest.mark.parametrize("orders", [1, 12])
def test_the_order_list_takes_the_same_queries_however_many_orders(
    operator, django_assert_num_queries, session_read_queries, orders
):
    for _ in range(orders):
        paid_order()

    # user, two counts, orders with their user and avatar, date hierarchy (2), currency filter
    with django_assert_num_queries(7 + session_read_queries):
        response = operator.get(CHANGELIST)

    assert response.status_code == 200
    assert response.content.decode().count("https://dashboard.stripe.com/payments/pi_test_") == orders


def test_the_order_list_filters_and_searches(operator):
    order = paid_order()
    OrderFactory(status=Order.Status.AWAITING_PAYMENT)

    assert operator.get(CHANGELIST, {"status__exact": "paid"}).context["cl"].result_count == 1
    assert list(operator.get(CHANGELIST, {"q": order.user.email}).context["cl"].result_list) == [order]
    assert operator.get(CHANGELIST, {"q": "not-a-uuid"}).status_code == 200


def test_the_order_page_shows_refunds_events_and_stripe_links(operator, fake_stripe):
    order = paid_order()
    Refund.objects.create(order=order, amount=order.amount, currency=order.currency, reason="r", stripe_refund_id="re_test_1")

    html = operator.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert f"https://dashboard.stripe.com/test/payments/{order.stripe_payment_intent_id}" in html
    assert "https://dashboard.stripe.com/test/refunds/re_test_1" in html
    assert 'name="amount"' not in html


def test_refund_selected_orders_through_the_admin(operator, fake_stripe, django_capture_on_commit_callbacks):
    paid = paid_order()
    unpaid = OrderFactory(status=Order.Status.AWAITING_PAYMENT)

    selected = {"action": "refund_selected", "_selected_action": [paid.pk, unpaid.pk]}
    asked = operator.post(CHANGELIST, selected)
    assert "Reason, for the customer" in asked.content.decode()
    assert not Refund.objects.exists(), "nothing is refunded before the operator gives a reason"

    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            CHANGELIST, {**selected, "reason": "You asked us for your money back."}, follow=True
        )

    [refund] = Refund.objects.all()
    assert refund.order == paid
    assert refund.reason == "You asked us for your money back."
    [email] = [m for m in mail.outbox if "on its way back" in m.subject]
    assert "You asked us for your money back." in email.body
    assert "admin" not in email.body.lower() and "@" not in email.body.split("Why:")[1]
    assert LogEntry.objects.get(object_id=str(paid.pk)).change_message == "Refunded: You asked us for your money back."
    assert [r.idempotency_key for r in fake_stripe.refund_requests] == [f"refund-{refund.pk}"]
    paid.refresh_from_db()
    unpaid.refresh_from_db()
    assert (paid.status, unpaid.status) == (Order.Status.REFUND_PENDING, Order.Status.AWAITING_PAYMENT)
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("1 order(s) refunded" in t for t in texts)
    assert any("not paid: there is nothing to refund" in t for t in texts)


def test_a_chinese_operators_suggested_reason_reaches_an_english_customer_in_english(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, language="zh-hans"))
    paid = paid_order(user=UserFactory(language="en"))
    selected = {"action": "refund_selected", "_selected_action": [paid.pk]}
    asked = client.post(CHANGELIST, selected).content.decode()
    assert '<option value="应你的要求退款。">' in asked and "You asked us" not in asked

    with django_capture_on_commit_callbacks(execute=True):
        client.post(CHANGELIST, {**selected, "reason": "应你的要求退款。"}, follow=True)

    assert Refund.objects.get().reason == "You asked us for your money back."
    [email] = [m for m in mail.outbox if "on its way back" in m.subject]
    assert "Why: You asked us for your money back." in email.body
