"""Starting Stripe Checkout: the session's metadata and idempotency key, the pinned API version, reuse and retries."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from orders.services import OrderNotAllowed, checkout_start
from orders.stripe_gateway import STRIPE_API_VERSION, checkout_session_retrieve
from tests.factories import AvatarFactory, OrderFactory, PhotoFactory, UserFactory

pytestmark = pytest.mark.django_db


def checkout_url(avatar) -> str:
    return reverse("orders:checkout", args=[avatar.public_id])


def test_checkout_creates_a_session_with_reference_metadata_and_idempotency_key(signed_in, ready_avatar, fake_stripe):
    response = signed_in.post(checkout_url(ready_avatar))

    order = Order.objects.get(avatar=ready_avatar)
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert (order.amount, order.currency) == (990, "cny")
    [request] = fake_stripe.checkout_requests
    assert request.idempotency_key == f"checkout-{order.public_id}-1"
    assert request.form["client_reference_id"] == str(order.pk)
    assert request.form["metadata[order_id]"] == str(order.pk)
    assert request.form["metadata[avatar_id]"] == str(ready_avatar.pk)
    assert request.form["line_items[0][price_data][unit_amount]"] == "990"
    assert request.form["line_items[0][price_data][currency]"] == "cny"
    assert request.form["mode"] == "payment"
    assert request.form["success_url"].endswith(reverse("orders:detail", args=[order.public_id]))
    assert int(request.form["expires_at"]) > timezone.now().timestamp() + 30 * 60
    assert order.stripe_checkout_session_id.startswith("cs_test_")
    assert response.status_code == 302
    assert response["Location"] == f"https://checkout.stripe.com/c/pay/{order.stripe_checkout_session_id}"


def test_every_call_to_stripe_names_the_pinned_api_version(signed_in, ready_avatar, fake_stripe):
    signed_in.post(checkout_url(ready_avatar))
    order = Order.objects.get(avatar=ready_avatar)
    checkout_session_retrieve(order.stripe_checkout_session_id)

    assert [request.headers.get("Stripe-Version") for request in fake_stripe.requests] == [STRIPE_API_VERSION] * 2


def test_a_second_click_reuses_the_order_and_its_session(signed_in, ready_avatar, fake_stripe):
    first = signed_in.post(checkout_url(ready_avatar))
    second = signed_in.post(checkout_url(ready_avatar))

    assert Order.objects.filter(avatar=ready_avatar).count() == 1
    assert len(fake_stripe.checkout_requests) == 1
    assert first["Location"] == second["Location"]


def test_an_old_session_is_replaced_under_the_next_idempotency_key(signed_in, ready_avatar, fake_stripe):
    signed_in.post(checkout_url(ready_avatar))
    Order.objects.update(checkout_started_at=timezone.now() - timedelta(hours=1))

    signed_in.post(checkout_url(ready_avatar))

    order = Order.objects.get()
    assert [r.idempotency_key for r in fake_stripe.checkout_requests] == [
        f"checkout-{order.public_id}-1", f"checkout-{order.public_id}-2",
    ]
    assert order.stripe_checkout_session_id == list(fake_stripe.sessions)[-1]


def test_the_sdk_retries_a_failed_call_under_the_same_idempotency_key(signed_in, ready_avatar, fake_stripe):
    fake_stripe.fail_next(1)

    response = signed_in.post(checkout_url(ready_avatar))

    keys = [r.idempotency_key for r in fake_stripe.checkout_requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(fake_stripe.sessions) == 1
    assert response["Location"].startswith("https://checkout.stripe.com/")


def test_stripe_down_keeps_the_order_and_the_next_try_takes_a_new_key(signed_in, ready_avatar, fake_stripe):
    fake_stripe.fail_next(3)

    response = signed_in.post(checkout_url(ready_avatar), follow=True)

    order = Order.objects.get()
    assert order.status == Order.Status.PENDING
    assert "could not be opened" in response.content.decode()
    signed_in.post(checkout_url(ready_avatar))
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert fake_stripe.checkout_requests[-1].idempotency_key == f"checkout-{order.public_id}-2"


def test_checkout_refuses_an_avatar_without_enough_accepted_photos(signed_in, user, fake_stripe):
    avatar = AvatarFactory(user=user)
    PhotoFactory(avatar=avatar)

    response = signed_in.post(checkout_url(avatar), follow=True)

    assert "Add 2 more accepted photo(s)" in response.content.decode()
    assert not Order.objects.exists()
    assert fake_stripe.requests == []


def test_checkout_refuses_an_avatar_already_paid_for(signed_in, ready_avatar, fake_stripe):
    ready_avatar.status = "paid"
    ready_avatar.save()

    signed_in.post(checkout_url(ready_avatar))

    assert not Order.objects.exists()
    assert fake_stripe.requests == []


def test_another_users_avatar_is_not_found(signed_in, fake_stripe):
    stranger_avatar = AvatarFactory(user=UserFactory())
    PhotoFactory.create_batch(3, avatar=stranger_avatar)

    assert signed_in.post(checkout_url(stranger_avatar)).status_code == 404
    assert not Order.objects.exists()


def test_checkout_needs_a_signed_in_user_and_a_post(client, signed_in, ready_avatar, fake_stripe):
    assert signed_in.get(checkout_url(ready_avatar)).status_code == 405
    signed_in.logout()
    response = client.post(checkout_url(ready_avatar))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert not Order.objects.exists()


def test_a_paid_order_cannot_be_checked_out_again(fake_stripe):
    order = OrderFactory(status=Order.Status.PAID)

    with pytest.raises(OrderNotAllowed, match="cannot be paid now"):
        checkout_start(order=order)
    assert fake_stripe.requests == []


def test_checkout_offers_wechat_pay_and_alipay_in_yuan(signed_in, ready_avatar, fake_stripe):
    signed_in.post(checkout_url(ready_avatar))

    [request] = fake_stripe.checkout_requests
    methods = [request.form[f"payment_method_types[{index}]"] for index in range(3)]
    assert methods == ["card", "wechat_pay", "alipay"]
    assert "payment_method_types[3]" not in request.form
    assert request.form["payment_method_options[wechat_pay][client]"] == "web"
    session = fake_stripe.sessions[Order.objects.get().stripe_checkout_session_id]
    assert session["payment_method_types"] == ["card", "wechat_pay", "alipay"]


@pytest.mark.parametrize(("currency", "offered"), [
    ("nzd", ["card", "alipay"]),
    ("chf", ["card", "wechat_pay"]),
    ("krw", ["card"]),
])
def test_checkout_offers_a_wallet_only_in_a_currency_it_takes(signed_in, ready_avatar, fake_stripe, settings,
                                                              currency, offered):
    settings.LIKENESS_CURRENCY = currency

    response = signed_in.post(checkout_url(ready_avatar))

    [request] = fake_stripe.checkout_requests
    sent = [value for name, value in sorted(request.form.items()) if name.startswith("payment_method_types[")]
    assert sent == offered and response.status_code == 302
    assert ("payment_method_options[wechat_pay][client]" in request.form) == ("wechat_pay" in offered)


def test_with_no_methods_configured_checkout_takes_the_dashboards(signed_in, ready_avatar, fake_stripe, settings):
    settings.LIKENESS_PAYMENT_METHODS = []

    signed_in.post(checkout_url(ready_avatar))

    [request] = fake_stripe.checkout_requests
    assert not any(name.startswith("payment_method") for name in request.form)
