"""The order pages: the return page that shows and polls the state, the status endpoint, and another person's order."""

import re

import pytest
from django.urls import reverse

from avatars.models import TrainingJob
from orders.models import Order
from tests.factories import OrderFactory, UserFactory
from tests.orders.conftest import gpu_tasks_queued

pytestmark = pytest.mark.django_db


def detail_url(order) -> str:
    return reverse("orders:detail", args=[order.public_id])


def status_url(order) -> str:
    return reverse("orders:status", args=[order.public_id])


def local_pay_url(order) -> str:
    return reverse("orders:local_pay", args=[order.public_id])


@pytest.fixture
def order(ready_avatar):
    return OrderFactory(user=ready_avatar.user, avatar=ready_avatar, status=Order.Status.AWAITING_PAYMENT)


def test_the_return_page_shows_the_state_and_polls_it_without_inline_script(signed_in, order):
    response = signed_in.get(detail_url(order))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Awaiting payment" in html
    assert f'data-status-url="{status_url(order)}"' in html
    assert 'src="/static/js/order_status.js"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_the_return_page_never_fulfils(signed_in, order, fake_stripe):
    signed_in.get(detail_url(order) + "?session_id=cs_test_whatever")

    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert not TrainingJob.objects.exists()


def test_the_status_endpoint_answers_status_and_label(signed_in, order):
    assert signed_in.get(status_url(order)).json() == {"status": "awaiting_payment", "label": "Awaiting payment"}


@pytest.mark.parametrize("url", [detail_url, status_url, local_pay_url])
def test_another_users_order_is_not_found(client, order, url):
    client.force_login(UserFactory())

    assert client.get(url(order)).status_code == 404


@pytest.mark.parametrize("url", [detail_url, status_url])
def test_order_pages_need_a_signed_in_user(client, order, url):
    response = client.get(url(order))

    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_without_keys_checkout_leads_to_the_labelled_local_payment_page(
    local_payments, signed_in, ready_avatar, django_capture_on_commit_callbacks
):
    response = signed_in.post(reverse("orders:checkout", args=[ready_avatar.public_id]))
    order = Order.objects.get()
    assert response["Location"] == local_pay_url(order)
    assert order.status == Order.Status.AWAITING_PAYMENT

    page = signed_in.get(local_pay_url(order)).content.decode()
    assert "Test payment — no real money" in page

    with django_capture_on_commit_callbacks(execute=True):
        paid = signed_in.post(local_pay_url(order))
        signed_in.post(local_pay_url(order))

    assert paid["Location"] == detail_url(order)
    order.refresh_from_db()
    assert (order.status, order.paid_via) == (Order.Status.PAID, Order.PaidVia.LOCAL)
    assert TrainingJob.objects.filter(order=order).count() == 1
    assert gpu_tasks_queued() == 1


def test_the_local_payment_page_does_not_exist_while_real_keys_are_set(fake_stripe, signed_in, order):
    assert signed_in.get(local_pay_url(order)).status_code == 404
    assert signed_in.post(local_pay_url(order)).status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
