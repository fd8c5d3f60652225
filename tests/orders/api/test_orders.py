"""Paying through the API: a Checkout Session from the orders services, then the order's status."""

import pytest

from orders.models import Order
from tests.api_clients import REQUIRED_PHOTOS, error_of
from tests.factories import AvatarFactory, OrderFactory, PhotoFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_avatar(user):
    avatar = AvatarFactory(user=user)
    PhotoFactory.create_batch(REQUIRED_PHOTOS, avatar=avatar)
    return avatar


def test_checkout_opens_a_stripe_session_and_returns_its_url(api, ready_avatar, fake_stripe):
    response = api.post(f"/api/v1/avatars/{ready_avatar.public_id}/checkout/")

    assert response.status_code == 201, response.content
    order = Order.objects.get(avatar=ready_avatar)
    body = response.json()
    assert body["checkout_url"] == f"https://checkout.stripe.com/c/pay/{order.stripe_checkout_session_id}"
    assert body["order"]["id"] == str(order.public_id)
    assert body["order"]["status"] == "awaiting_payment"
    assert (body["order"]["amount"], body["order"]["currency"]) == (990, "cny")
    assert len(fake_stripe.checkout_requests) == 1


def test_a_second_checkout_reuses_the_order_and_session(api, ready_avatar, fake_stripe):
    first = api.post(f"/api/v1/avatars/{ready_avatar.public_id}/checkout/").json()
    second = api.post(f"/api/v1/avatars/{ready_avatar.public_id}/checkout/").json()

    assert first == second
    assert len(fake_stripe.checkout_requests) == 1


def test_checkout_with_local_payments_gives_an_absolute_local_pay_url(api, ready_avatar):
    response = api.post(f"/api/v1/avatars/{ready_avatar.public_id}/checkout/")

    order = Order.objects.get(avatar=ready_avatar)
    assert response.json()["checkout_url"] == f"http://testserver/orders/{order.public_id}/local-pay/"


def test_checkout_before_enough_photos_is_a_conflict_with_the_reason(api, user, fake_stripe):
    avatar = AvatarFactory(user=user)

    response = api.post(f"/api/v1/avatars/{avatar.public_id}/checkout/")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "order_not_allowed"
    assert error["message"] == f"Add {REQUIRED_PHOTOS} more accepted photo(s) before paying."
    assert not Order.objects.exists() and not fake_stripe.checkout_requests


def test_stripe_being_down_is_a_503_and_the_order_stays_payable(api, ready_avatar, fake_stripe):
    fake_stripe.fail_next(10)

    response = api.post(f"/api/v1/avatars/{ready_avatar.public_id}/checkout/")

    assert response.status_code == 503
    assert error_of(response)["code"] == "payment_unavailable"
    assert Order.objects.get(avatar=ready_avatar).status == Order.Status.PENDING


def test_checkout_is_throttled(api, ready_avatar, throttle_rate):
    throttle_rate("checkout", "1/min")

    first = api.post(f"/api/v1/avatars/{ready_avatar.public_id}/checkout/")
    second = api.post(f"/api/v1/avatars/{ready_avatar.public_id}/checkout/")

    assert first.status_code == 201
    assert second.status_code == 429
    assert error_of(second)["code"] == "throttled" and "Retry-After" in second


def test_order_status_and_list(api, user):
    order = OrderFactory(user=user, status=Order.Status.AWAITING_PAYMENT)

    detail = api.get(f"/api/v1/orders/{order.public_id}/").json()
    listed = api.get("/api/v1/orders/").json()

    assert (detail["status"], detail["status_label"]) == ("awaiting_payment", "Awaiting payment")
    assert detail["avatar"] == str(order.avatar.public_id)
    assert [o["id"] for o in listed["results"]] == [str(order.public_id)]


@pytest.mark.parametrize("rows", [3, 25])
def test_the_order_list_takes_the_same_queries_for_any_number_of_rows(
    api, user, rows, django_assert_num_queries
):
    OrderFactory.create_batch(rows, user=user)

    # token, its last use (once a minute), count, page of orders with their avatars
    with django_assert_num_queries(4):
        response = api.get("/api/v1/orders/")

    assert response.json()["count"] == rows
