"""One sign-in budget for the website's form, the API's token endpoint and the admin's login:
per client address per minute, and per account per hour (accounts.services.sign_in_budget_spent)."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db




def website_sign_in(email: str, password: str, *, address: str = "203.0.113.5") -> int:
    return Client(REMOTE_ADDR=address).post(
        reverse("accounts:login"), {"username": email, "password": password}
    ).status_code


def api_sign_in(email: str, password: str, *, address: str = "203.0.113.5") -> int:
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/token/", {"email": email, "password": password}, format="json"
    ).status_code


def admin_sign_in(email: str, password: str, *, address: str = "203.0.113.5"):
    return Client(REMOTE_ADDR=address).post(
        reverse("admin:login"), {"username": email, "password": password, "next": "/admin/"}
    )


def test_the_admin_login_answers_429_after_the_wrong_passwords_even_to_the_right_one(settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 10
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)

    wrong = [admin_sign_in("boss@example.com", "guess").status_code for _ in range(10)]
    right = admin_sign_in("boss@example.com", PASSWORD)

    assert wrong == [200] * 10
    assert right.status_code == 429
    assert b"Too many attempts" in right.content
    assert "_auth_user_id" not in right.wsgi_request.session


def test_the_admin_login_still_signs_in_within_the_budget():
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)

    response = admin_sign_in("boss@example.com", PASSWORD)

    assert response.status_code == 302 and response.url == "/admin/"


def test_the_website_the_api_and_the_admin_spend_one_budget_per_address(settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 3
    UserFactory(email="me@example.com")

    statuses = [
        website_sign_in("a@example.com", "wrong"),
        api_sign_in("b@example.com", "wrong"),
        admin_sign_in("c@example.com", "wrong").status_code,
        api_sign_in("me@example.com", PASSWORD),
    ]

    assert statuses == [200, 400, 200, 429]
    # Another address has its own budget.
    assert api_sign_in("me@example.com", PASSWORD, address="203.0.113.99") == 200


def test_guessing_one_account_from_many_addresses_spends_the_account_budget(settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 100
    settings.LIKENESS_SIGN_IN_ACCOUNT_LIMIT = 4
    UserFactory(email="me@example.com")

    guesses = [
        website_sign_in("me@example.com", "wrong", address="198.51.100.1"),
        api_sign_in("ME@example.com ", "wrong", address="198.51.100.2"),
        admin_sign_in("me@example.com", "wrong", address="198.51.100.3").status_code,
        website_sign_in("me@example.com", "wrong", address="198.51.100.4"),
    ]

    assert guesses == [200, 400, 200, 200]
    assert website_sign_in("me@example.com", PASSWORD, address="198.51.100.5") == 429
    assert api_sign_in("me@example.com", PASSWORD, address="198.51.100.6") == 429
    # Other accounts are untouched.
    UserFactory(email="you@example.com")
    assert api_sign_in("you@example.com", PASSWORD, address="198.51.100.7") == 200
