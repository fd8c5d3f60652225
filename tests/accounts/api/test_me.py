"""Tokens, the account, and deleting everything with a receipt."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, DeletionReceipt, User
from avatars.models import Avatar
from tests.api_clients import error_of
from tests.factories import PASSWORD, AvatarFactory, PortraitFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_token_for_email_and_password_opens_the_api(anonymous, settings):
    user = UserFactory(email="me@example.com")

    response = anonymous.post(
        "/api/v1/auth/token/", {"email": " ME@example.com ", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    token = response.json()["token"]
    assert ApiToken.objects.get(key_prefix=token[:8]).user == user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json()["email"] == "me@example.com"


def test_a_wrong_password_gets_no_token(anonymous, user):
    response = anonymous.post(
        "/api/v1/auth/token/", {"email": user.email, "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    assert error_of(response)["message"] == "That email and password do not match an account."
    assert not ApiToken.objects.exists()


def test_token_requests_are_rate_limited_per_address(anonymous, user, settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 2

    statuses = [
        anonymous.post(
            "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json"
        ).status_code
        for _ in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_revoking_the_token_signs_it_out(api):
    assert api.delete("/api/v1/auth/token/revoke/").status_code == 204
    assert api.get("/api/v1/me/").status_code == 401


def test_me(api, user):
    assert api.get("/api/v1/me/").json() == {
        "email": user.email,
        "display_name": "",
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
        "email_verified_at": user.email_verified_at.isoformat().replace("+00:00", "Z"),
    }


def test_delete_everything_needs_the_email_typed_again(api, user):
    missing = api.delete("/api/v1/me/", {}, format="json")
    wrong = api.delete("/api/v1/me/", {"confirm": "someone@example.com"}, format="json")

    assert missing.status_code == 400 and "confirm" in error_of(missing)["fields"]
    assert wrong.status_code == 400
    assert error_of(wrong)["fields"]["confirm"] == ["That is not the email address of this account."]
    assert User.objects.filter(pk=user.pk).exists()


def test_delete_everything_removes_the_account_and_answers_with_the_receipt(api, user):
    PortraitFactory(avatar=AvatarFactory(user=user, status=Avatar.Status.READY))

    response = api.delete("/api/v1/me/", {"confirm": user.email.upper()}, format="json")

    assert response.status_code == 200
    receipt = response.json()
    assert receipt["scope"] == "everything"
    assert receipt["removed"]["account"] == 1 and receipt["removed"]["portraits"] == 1
    assert receipt["removed"]["api_tokens"] == 1
    assert DeletionReceipt.objects.filter(token=receipt["token"]).exists()
    assert not User.objects.filter(pk=user.pk).exists()
    assert api.get("/api/v1/me/").status_code == 401
