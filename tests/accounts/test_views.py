import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import DeletionReceipt, User
from avatars.models import Avatar, Portrait
from orders.models import Order
from tests.factories import PASSWORD, AvatarFactory, OrderFactory, PortraitFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_signup_signs_in_and_lands_on_my_avatars(client, settings):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "New@Example.com", "password1": PASSWORD, "password2": PASSWORD,
         "accept_terms": "on", "terms_version": settings.LIKENESS_TERMS_VERSION},
    )

    assert response.status_code == 302 and response.url == reverse("avatars:home")
    user = User.objects.get()
    assert user.email == "new@example.com"
    assert client.get(reverse("accounts:my_data")).context["user"] == user


def test_login_with_email_and_wrong_password_is_refused(client):
    UserFactory(email="me@example.com")

    refused = client.post(reverse("accounts:login"), {"username": "me@example.com", "password": "nope"})
    accepted = client.post(reverse("accounts:login"), {"username": "ME@example.com", "password": PASSWORD})

    assert refused.status_code == 200 and refused.context["form"].errors
    assert accepted.status_code == 302 and accepted.url == reverse("avatars:home")


@pytest.mark.parametrize("url_name, data", [
    ("accounts:login", {"username": "me@example.com", "password": "wrong"}),
    ("accounts:signup", {"email": "x@example.com", "password1": "a", "password2": "b"}),
    ("accounts:password_reset", {"email": "me@example.com"}),
])
def test_auth_forms_answer_429_after_the_limit(client, settings, url_name, data):
    settings.LIKENESS_AUTH_RATE_LIMIT = 2
    UserFactory(email="me@example.com")

    statuses = [client.post(reverse(url_name), data).status_code for _ in range(3)]

    assert 429 not in statuses[:2]
    assert statuses[2] == 429
    refused = client.post(reverse(url_name), data)
    assert b"Too many attempts" in refused.content


def test_password_reset_sends_a_working_link(client, settings):
    user = UserFactory(email="me@example.com")

    client.post(reverse("accounts:password_reset"), {"email": "me@example.com"})

    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password-reset/" in line)
    path = link.removeprefix(settings.SITE_URL)
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"]
    client.post(form_page.redirect_chain[-1][0], {"new_password1": "a new long passphrase 42",
                                                   "new_password2": "a new long passphrase 42"})
    user.refresh_from_db()
    assert user.check_password("a new long passphrase 42")


@pytest.mark.parametrize("url_name", ["accounts:login", "accounts:signup", "accounts:password_reset"])
def test_forms_refuse_a_post_without_csrf_token(url_name):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(reverse(url_name), {"email": "a@example.com", "username": "a@example.com"})

    assert response.status_code == 403


def test_delete_everything_refuses_a_post_without_csrf_token():
    user = UserFactory()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)

    response = strict.post(reverse("accounts:delete_everything"), {"email": user.email})

    assert response.status_code == 403
    assert User.objects.filter(pk=user.pk).exists()


def test_my_data_shows_avatars_portraits_and_orders_in_few_queries(
    client, django_assert_num_queries, session_read_queries
):
    user = UserFactory()
    for _ in range(3):
        avatar = AvatarFactory(user=user)
        PortraitFactory.create_batch(2, avatar=avatar)
        OrderFactory(user=user, avatar=avatar, amount=990, currency="cny")
    client.force_login(user)

    # user, avatars (with their consents), portraits, orders, terms acceptances, template requests,
    # votes, API tokens, unread notices (base.html)
    with django_assert_num_queries(9 + session_read_queries):
        response = client.get(reverse("accounts:my_data"))

    assert response.status_code == 200
    assert response.content.count(b"\xc2\xa59.90") == 3
    assert len(response.context["avatars"]) == 3
    assert all(len(avatar.portrait_list) == 2 for avatar in response.context["avatars"])


def test_someone_elses_avatar_and_portrait_cannot_be_deleted(client):
    client.force_login(UserFactory())
    portrait = PortraitFactory()

    avatar_response = client.post(reverse("accounts:avatar_delete", args=[portrait.avatar.public_id]), {"confirm": "on"})
    portrait_response = client.post(reverse("accounts:portrait_delete", args=[portrait.public_id]))

    assert (avatar_response.status_code, portrait_response.status_code) == (404, 404)
    assert Portrait.objects.filter(pk=portrait.pk).exists()


def test_avatar_delete_needs_the_confirmation_tick(client):
    avatar = AvatarFactory()
    client.force_login(avatar.user)
    url = reverse("accounts:avatar_delete", args=[avatar.public_id])

    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 200 and unconfirmed.context["form"].errors
    assert Avatar.objects.filter(pk=avatar.pk).exists()

    confirmed = client.post(url, {"confirm": "on"})

    receipt = DeletionReceipt.objects.get()
    assert confirmed.url == reverse("accounts:receipt", args=[receipt.token])
    assert not Avatar.objects.filter(pk=avatar.pk).exists()


def test_delete_everything_needs_the_email_then_signs_out_and_shows_the_receipt(client):
    user = UserFactory(email="me@example.com")
    OrderFactory(user=user)
    client.force_login(user)
    url = reverse("accounts:delete_everything")

    wrong = client.post(url, {"email": "someone@example.com"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    assert User.objects.filter(pk=user.pk).exists()

    done = client.post(url, {"email": "ME@example.com"}, follow=True)

    assert not User.objects.filter(pk=user.pk).exists()
    assert Order.objects.get().user_id is None
    assert not done.context["user"].is_authenticated
    assert b"Everything is deleted" in done.content
    assert b"Order records" in done.content


def test_receipt_is_reachable_by_token_only(client):
    receipt = DeletionReceipt.objects.create(user_email_hash="0" * 64, token="t" * 43, scope="portrait",
                                             removed={"portraits": 1, "files": 1})

    assert client.get(reverse("accounts:receipt", args=[receipt.token])).status_code == 200
    assert client.get(reverse("accounts:receipt", args=["t" * 42])).status_code == 404
