"""Which language and time zone a person gets, and where their choice is kept (accounts.locale)."""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import api_token_create
from tests.factories import PASSWORD, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

LANGUAGE_COOKIE = settings.LANGUAGE_COOKIE_NAME


def page_language(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def test_a_visitor_gets_the_language_their_browser_asks_for(client):
    assert page_language(client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5")) == "zh-hans"
    assert page_language(client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")) == "en"
    # A language the site does not speak: the operator's default.
    assert page_language(client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR")) == settings.LANGUAGE_CODE


def test_the_switcher_is_on_every_page_and_works_without_a_script(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="{reverse("language-choose")}"' in page
    assert 'name="language" value="zh-hans"' in page
    assert 'name="next" value="/"' in page


def test_the_switchers_choice_beats_the_browser_for_a_visitor(client):
    response = client.post(reverse("language-choose"), {"language": "zh-hans", "next": "/styles/"})

    assert response.status_code == 302 and response["Location"] == "/styles/"
    assert response.cookies[LANGUAGE_COOKIE].value == "zh-hans"
    landing = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert page_language(landing) == "zh-hans"
    assert "9.90 元" in landing.content.decode()


def test_the_switcher_refuses_a_language_it_does_not_speak_and_a_foreign_next(client):
    response = client.post(reverse("language-choose"), {"language": "klingon", "next": "https://evil.example/"})

    assert response["Location"] == "/"
    assert LANGUAGE_COOKIE not in response.cookies


def test_a_signed_in_customers_choice_is_saved_on_their_account(client):
    user = UserFactory()
    client.force_login(user)

    client.post(reverse("language-choose"), {"language": "zh-hans", "next": "/"})

    user.refresh_from_db()
    assert user.language == "zh-hans"
    # Another browser, which asks for English, still gets the account's language.
    other = client.__class__()
    other.force_login(user)
    response = other.get(reverse("accounts:my_data"), HTTP_ACCEPT_LANGUAGE="en")
    assert page_language(response) == "zh-hans"
    # ...and its cookie is set to it, so signing out there keeps the language.
    assert response.cookies[LANGUAGE_COOKIE].value == "zh-hans"


def test_a_signed_in_switch_is_csrf_checked():
    from django.test import Client

    user = UserFactory(language="en")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(reverse("language-choose"), {"language": "zh-hans"})

    assert response.status_code == 403
    user.refresh_from_db()
    assert user.language == "en"


def test_signing_in_activates_the_saved_language_and_the_cookie_follows_it(client):
    user = UserFactory(language="zh-hans")
    client.cookies[LANGUAGE_COOKIE] = "en"

    client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    page = client.get(reverse("accounts:my_data"), HTTP_ACCEPT_LANGUAGE="en")

    assert page_language(page) == "zh-hans"
    assert client.cookies[LANGUAGE_COOKIE].value == "zh-hans"
    user.refresh_from_db()
    assert user.language == "zh-hans"  # the cookie's English did not overwrite the saved choice


def test_signing_in_captures_the_language_being_read_and_the_browsers_time_zone(client):
    user = UserFactory()
    assert (user.language, user.time_zone) == ("", "")
    client.cookies["likeness_time_zone"] = "Asia/Shanghai"

    client.post(
        reverse("accounts:login"), {"username": user.email, "password": PASSWORD},
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )

    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("zh-hans", "Asia/Shanghai")


def test_the_account_page_saves_language_and_time_zone_and_refuses_an_unknown_zone(client):
    user = UserFactory(language="en", time_zone="Europe/London")
    client.force_login(user)

    client.post(reverse("accounts:locale_preferences"), {"language": "zh-hans", "time_zone": "Asia/Shanghai"})
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("zh-hans", "Asia/Shanghai")

    response = client.post(
        reverse("accounts:locale_preferences"), {"language": "en", "time_zone": "Mars/Olympus"}, follow=True
    )
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("zh-hans", "Asia/Shanghai")
    assert "Asia/Shanghai" in response.content.decode()  # the refusal names an example


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='tests')[1]}")
    return client


def test_a_token_call_without_accept_language_speaks_the_saved_language():
    user = UserFactory(language="zh-hans")
    order = OrderFactory(user=user, amount=990, currency="cny")

    body = token_client(user).get(f"/api/v1/orders/{order.public_id}/").json()

    assert body["amount_display"] == "9.90 元"


def test_a_token_calls_accept_language_wins_over_the_saved_language():
    user = UserFactory(language="zh-hans")
    order = OrderFactory(user=user, amount=990, currency="cny")

    response = token_client(user).get(f"/api/v1/orders/{order.public_id}/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.json()["amount_display"] == "¥9.90"
    assert response["Content-Language"] == "en"


def test_the_sites_own_scripts_get_the_saved_language_whatever_the_browser_sends(client):
    user = UserFactory(language="zh-hans")
    order = OrderFactory(user=user, amount=990, currency="cny")
    client.force_login(user)

    body = client.get(f"/api/v1/orders/{order.public_id}/", HTTP_ACCEPT_LANGUAGE="en").json()

    assert body["amount_display"] == "9.90 元"


def test_a_page_shows_dates_in_the_persons_zone(client):
    from django.utils import timezone

    from accounts.receipts import deletion_receipt_create

    user = UserFactory(language="en", time_zone="Asia/Shanghai")
    receipt = deletion_receipt_create(email=user.email, scope="portrait", removed={"portraits": 1})
    client.force_login(user)

    page = client.get(reverse("accounts:receipt", args=[receipt.token])).content.decode()

    local = timezone.localtime(receipt.created_at, timezone=__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert local.strftime("%H:%M") in page


def test_a_new_user_reads_in_the_default_language_and_zone():
    from accounts.locale import user_language, user_time_zone

    user = User(email="new@example.com")
    assert (user_language(user=user), user_time_zone(user=user)) == (
        settings.LANGUAGE_CODE, settings.LIKENESS_DEFAULT_TIME_ZONE
    )


def test_an_anonymous_switch_without_a_token_changes_only_that_browsers_cookie():
    from django.test import Client

    forger = Client(enforce_csrf_checks=True)
    response = forger.post(reverse("language-choose"), {"language": "zh-hans"})

    assert response.status_code == 302
    assert response.cookies[LANGUAGE_COOKIE].value == "zh-hans"
    assert not User.objects.exclude(language="").exists()


def test_the_public_page_cache_keeps_each_language_apart(client):
    assert page_language(client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN")) == "zh-hans"

    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert page_language(english) == "en" and "¥9.90" in english.content.decode()
