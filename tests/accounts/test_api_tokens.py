"""API tokens end: with a password reset or change, at their expiry, and when revoked from the
account page (accounts.tokens)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.tokens import api_token_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a new long passphrase 42"




def calls_me(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/me/").status_code


def token_from_api(email: str, password: str = PASSWORD, **extra) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"email": email, "password": password, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def reset_link(client: Client, email: str, **headers) -> str:
    client.post(reverse("accounts:password_reset"), {"email": email}, **headers)
    return next(line for line in mail.outbox[-1].body.splitlines() if "/password-reset/" in line)


def test_a_token_is_dead_after_a_password_reset(settings):
    settings.LIKENESS_SITE_URL = settings.SITE_URL = "http://testserver"
    UserFactory(email="me@example.com")
    key = token_from_api("me@example.com")["token"]
    assert calls_me(key) == 200

    client = Client()
    link = reset_link(client, "me@example.com")
    form_page = client.get(link.removeprefix("http://testserver"), follow=True)
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302
    assert calls_me(key) == 401
    assert not ApiToken.objects.exists()
    # The new password makes new tokens.
    assert calls_me(token_from_api("me@example.com", NEW_PASSWORD)["token"]) == 200


def test_a_password_change_from_anywhere_revokes_every_token_of_the_account():
    user = UserFactory()
    someone_else = UserFactory()
    keys = [api_token_create(user=user, name=name)[1] for name in ("laptop", "phone")]
    others_key = api_token_create(user=someone_else, name="theirs")[1]

    user.set_password(NEW_PASSWORD)
    user.save()

    assert [calls_me(key) for key in keys] == [401, 401]
    assert calls_me(others_key) == 200


def test_saving_the_account_without_a_new_password_keeps_its_tokens():
    user = UserFactory()
    key = api_token_create(user=user, name="laptop")[1]

    user.display_name = "Me"
    user.save()
    # A hash upgraded at sign-in is not a new password either.
    assert user.check_password(PASSWORD)

    assert calls_me(key) == 200


def test_a_token_expires_after_the_configured_days(settings):
    settings.LIKENESS_API_TOKEN_DAYS = 30
    UserFactory(email="me@example.com")
    before = timezone.now()

    answer = token_from_api("me@example.com", name="backup script")

    token = ApiToken.objects.get()
    assert answer["name"] == token.name == "backup script"
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    assert calls_me(answer["token"]) == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert calls_me(answer["token"]) == 401


def test_only_a_hash_of_the_key_is_stored_and_each_request_makes_a_new_token():
    UserFactory(email="me@example.com")

    first, second = token_from_api("me@example.com")["token"], token_from_api("me@example.com")["token"]

    assert first != second
    stored = list(ApiToken.objects.values_list("key_hash", "key_prefix"))
    assert len(stored) == 2
    assert all(key not in row for key in (first, second) for row in stored)
    assert {prefix for _, prefix in stored} == {first[:8], second[:8]}


def test_revoking_through_the_api_ends_only_the_token_that_asked():
    user = UserFactory()
    laptop, phone = (api_token_create(user=user, name=name)[1] for name in ("laptop", "phone"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {laptop}")

    assert client.delete("/api/v1/auth/token/revoke/").status_code == 204

    assert (calls_me(laptop), calls_me(phone)) == (401, 200)


def test_the_account_page_lists_the_tokens_and_revokes_one():
    user = UserFactory()
    laptop, laptop_key = api_token_create(user=user, name="laptop script")
    phone_key = api_token_create(user=user, name="phone app")[1]
    calls_me(laptop_key)
    expired, _ = api_token_create(user=user, name="old one")
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    others = api_token_create(user=UserFactory(), name="theirs")[0]
    client = Client()
    client.force_login(user)

    page = client.get(reverse("accounts:my_data"))

    listed = page.context["api_tokens"]
    assert [token.name for token in listed] == ["phone app", "laptop script"]
    assert next(t for t in listed if t.pk == laptop.pk).last_used_at is not None
    body = page.content.decode()
    assert "laptop script" in body and laptop_key[:8] in body and laptop_key not in body
    assert "old one" not in body

    assert client.post(reverse("accounts:api_token_revoke", args=[others.pk])).status_code == 404
    revoked = client.post(reverse("accounts:api_token_revoke", args=[laptop.pk]), follow=True)

    assert revoked.redirect_chain[-1][0] == reverse("accounts:my_data")
    assert "laptop script" not in revoked.content.decode()
    assert (calls_me(laptop_key), calls_me(phone_key)) == (401, 200)
    assert ApiToken.objects.filter(pk=others.pk).exists()


def test_the_reset_link_is_built_from_the_site_url_never_the_request_host(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://likeness.example"
    UserFactory(email="me@example.com")

    link = reset_link(Client(), "me@example.com", HTTP_HOST="attacker.example", secure=False)

    assert link.startswith("https://likeness.example/accounts/password-reset/")
    assert "attacker.example" not in mail.outbox[-1].body
