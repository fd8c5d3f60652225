"""One sign-in budget for the website's form, the API's token endpoint and the admin's login:
attempts per client address per minute, and wrong passwords per account, per address and in all
(accounts.services.sign_in_check). A stranger's guesses slow guessing; they never lock the owner out."""

import time
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from portrait_site.core import rate_limits
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


def test_the_admin_login_answers_429_once_the_address_spent_its_minute_even_to_the_right_password(settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 10
    settings.LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS = 100
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


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Stops the clock the rate limits read at the start of an hour, so no window ends during a
    test, and moves it on when asked: their windows are numbered by the time. Only theirs: a
    module importing time.time meanwhile (DRF's throttles) must keep the real one."""
    now = {"seconds": float(int(time.time()) // 3600 * 3600 + 1)}
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now["seconds"]))

    def advance(seconds: float) -> None:
        now["seconds"] += seconds

    return advance


SIGN_INS = {
    "website": website_sign_in,
    "api": api_sign_in,
    "admin": lambda email, password, address="203.0.113.5": admin_sign_in(email, password, address=address).status_code,
}
WRONG_PASSWORD_STATUS = {"website": 200, "api": 400, "admin": 200}
SIGNED_IN_STATUS = {"website": 302, "api": 200, "admin": 302}


@pytest.mark.parametrize("way", SIGN_INS)
def test_100_wrong_passwords_from_one_address_leave_the_owner_able_to_sign_in(settings, clock, way):
    sign_in = SIGN_INS[way]
    UserFactory(email="owner@example.com", is_staff=True, is_superuser=True)
    attacker = "198.51.100.66"

    flood = [sign_in("owner@example.com", f"guess-{n}", address=attacker) for n in range(100)]

    # The address's own limits refuse most of the flood, and the refusals count against no one.
    assert flood[:5] == [WRONG_PASSWORD_STATUS[way]] * 5 and set(flood[5:]) == {429}
    assert sign_in("owner@example.com", PASSWORD, address="203.0.113.20") == SIGNED_IN_STATUS[way]
    # The attacker's address waits the stated delay, LIKENESS_SIGN_IN_DELAY_MINUTES, for this account.
    assert sign_in("owner@example.com", PASSWORD, address=attacker) == 429
    clock(settings.LIKENESS_SIGN_IN_DELAY_MINUTES * 60)
    assert sign_in("owner@example.com", PASSWORD, address=attacker) == SIGNED_IN_STATUS[way]


def test_the_refusal_says_how_long_to_wait_and_how_to_get_in_now():
    UserFactory(email="owner@example.com")
    for _ in range(5):
        website_sign_in("owner@example.com", "wrong")

    page = Client(REMOTE_ADDR="203.0.113.5").post(reverse("accounts:login"), {"username": "owner@example.com", "password": PASSWORD})
    api = APIClient(REMOTE_ADDR="203.0.113.5").post(
        "/api/v1/auth/token/", {"email": "owner@example.com", "password": PASSWORD}, format="json"
    )

    assert page.status_code == 429 and 0 < int(page["Retry-After"]) <= 15 * 60
    assert "Forgot your password?" in page.content.decode()
    assert api.status_code == 429 and api.json()["error"]["code"] == "throttled"
    assert "minutes" in api.json()["error"]["message"]


def test_attempts_the_address_limit_refused_do_not_count_against_the_account(settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 3
    settings.LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS = 100
    settings.LIKENESS_SIGN_IN_ACCOUNT_LIMIT = 5
    UserFactory(email="me@example.com")

    flood = [api_sign_in("me@example.com", "wrong", address="198.51.100.1") for _ in range(100)]
    one_more = api_sign_in("me@example.com", "wrong", address="198.51.100.2")

    assert flood.count(400) == 3 and flood.count(429) == 97
    # 4 wrong passwords counted, under the account's 5: the account is not slowed, so an address
    # with one wrong guess may still try. Had the 97 refusals counted, it would wait.
    assert one_more == 400
    assert api_sign_in("me@example.com", PASSWORD, address="198.51.100.2") == 200


def test_guessing_one_account_from_many_addresses_slows_to_one_guess_per_address(settings, clock):
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
    # Past the account's limit, an address that guessed wrong waits, even with the right password...
    assert website_sign_in("me@example.com", PASSWORD, address="198.51.100.1") == 429
    assert api_sign_in("me@example.com", PASSWORD, address="198.51.100.2") == 429
    # ... a new address gets one guess ...
    assert api_sign_in("me@example.com", "wrong", address="198.51.100.5") == 400
    assert api_sign_in("me@example.com", "wrong", address="198.51.100.5") == 429
    # ... and the owner, from an address that guessed nothing, signs in.
    assert api_sign_in("me@example.com", PASSWORD, address="198.51.100.6") == 200
    assert website_sign_in("me@example.com", PASSWORD, address="198.51.100.7") == 302
    # Other accounts are untouched.
    UserFactory(email="you@example.com")
    assert api_sign_in("you@example.com", PASSWORD, address="198.51.100.1") == 200
    # The next window, the guessing addresses may try again.
    clock(settings.LIKENESS_SIGN_IN_DELAY_MINUTES * 60)
    assert website_sign_in("me@example.com", PASSWORD, address="198.51.100.1") == 302
