"""The accounts pages: sign-up and its mailed link, sign-in, password reset, My data and its deletions."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import DeletionReceipt, User
from avatars.models import Avatar, Portrait
from orders.models import Order
from tests.factories import PASSWORD, AvatarFactory, OrderFactory, PortraitFactory, UserFactory

pytestmark = pytest.mark.django_db


def _sign_up(client, settings, email: str, password: str = PASSWORD):
    return client.post(reverse("accounts:signup"), {
        "email": email, "password1": password, "password2": password,
        "accept_terms": "on", "terms_version": settings.LIKENESS_TERMS_VERSION,
    }, follow=True)


def test_signup_mails_the_link_that_confirms_the_address_and_signs_in(client, settings):
    response = _sign_up(client, settings, "New@Example.com")

    assert response.redirect_chain == [(reverse("accounts:signup_sent"), 302)]
    assert "Check your inbox" in response.content.decode()
    user = User.objects.get()
    assert (user.email, user.email_verified_at) == ("new@example.com", None)
    # Not signed in until the mailbox is proven, but the password works at once.
    assert not response.context["user"].is_authenticated
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    link = re.search(r"https?://\S+/accounts/verify-email/\S+/", mail.outbox[0].body).group(0)

    opened = client.get(link)

    assert opened.status_code == 200 and opened.context["user"] == user
    assert client.get(reverse("accounts:my_data")).context["user"] == user
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_signup_answers_the_same_whether_or_not_the_address_has_an_account(client, settings):
    owner = UserFactory(email="taken@example.com")

    for_new = _sign_up(client, settings, "free@example.com")
    for_taken = _sign_up(Client(), settings, "Taken@Example.com", password="a different passphrase 9")

    def page(response) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())

    assert (for_taken.status_code, for_taken.redirect_chain) == (for_new.status_code, for_new.redirect_chain)
    assert page(for_taken) == page(for_new)
    assert list(User.objects.order_by("email").values_list("email", flat=True)) == [
        "free@example.com", "taken@example.com",
    ]
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    # The owner hears of the attempt, with the ways back in; no link that confirms or signs in.
    note = next(message for message in mail.outbox if message.to == ["taken@example.com"])
    assert "already" in note.body and reverse("accounts:password_reset") in note.body
    assert "/accounts/verify-email/" not in note.body


def test_the_owner_gets_at_most_a_few_notes_an_hour_of_sign_ups_with_their_address(client, settings):
    settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR = 2
    UserFactory(email="taken@example.com")

    answers = {_sign_up(Client(), settings, "taken@example.com").status_code for _ in range(4)}

    assert answers == {200}
    assert [message.to for message in mail.outbox] == [["taken@example.com"]] * 2


def test_signing_in_with_the_password_works_before_the_address_is_confirmed(client, settings):
    _sign_up(client, settings, "early@example.com")

    signed_in = client.post(reverse("accounts:login"), {"username": "early@example.com", "password": PASSWORD})

    assert signed_in.status_code == 302 and signed_in.url == reverse("avatars:home")
    assert User.objects.get().email_verified_at is None


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


def test_an_account_gets_at_most_a_few_reset_mails_an_hour_from_any_number_of_addresses(settings):
    settings.LIKENESS_PASSWORD_RESETS_PER_HOUR = 3
    UserFactory(email="me@example.com")
    UserFactory(email="you@example.com")

    answers = [
        Client(REMOTE_ADDR=f"198.51.100.{n}").post(reverse("accounts:password_reset"), {"email": "me@example.com"})
        for n in range(8)
    ]
    Client(REMOTE_ADDR="198.51.100.99").post(reverse("accounts:password_reset"), {"email": "you@example.com"})

    # The page answers the same every time: it never tells whether an address has an account.
    assert {answer.status_code for answer in answers} == {302}
    assert [message.to for message in mail.outbox] == [["me@example.com"]] * 3 + [["you@example.com"]]


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
