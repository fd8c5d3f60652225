"""Anonymous visitors get public pages from a short cache; nothing personal is ever cached."""

import pytest
from django.contrib.messages import constants
from django.utils import translation

from styles.services import template_publish
from tests.factories import StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

PUBLIC_URLS = ["/", "/styles/", "/api/v1/templates/"]


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_a_repeat_anonymous_visit_costs_one_query(client, url, django_assert_num_queries):
    StyleTemplateFactory.create_batch(3)
    first = client.get(url)

    with django_assert_num_queries(1):
        again = client.get(url)

    assert again.status_code == 200 and again.content == first.content


def test_a_published_template_shows_at_once(client):
    StyleTemplateFactory(title="Studio white")
    client.get("/styles/")
    draft = StyleTemplateFactory(title="Harbour dusk", is_published=False, prompt="a photo of {identity}")

    template_publish(template=draft)

    assert "Harbour dusk" in client.get("/styles/").content.decode()


def test_an_edit_to_a_published_template_shows_at_once(client):
    template = StyleTemplateFactory(title="Studio white")
    client.get("/styles/")
    template.title = "Studio ivory"
    template.save()

    assert "Studio ivory" in client.get("/styles/").content.decode()


def test_signed_in_visitors_are_never_served_from_the_cache(client):
    StyleTemplateFactory()
    client.get("/styles/")
    user = UserFactory()
    client.force_login(user)

    page = client.get("/styles/").content.decode()

    assert user.email in page or "Sign out" in page


def test_a_page_with_a_pending_message_is_neither_served_nor_stored(client):
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpResponse
    from django.test import RequestFactory

    StyleTemplateFactory()
    storage = CookieStorage(RequestFactory().get("/"))
    response = HttpResponse()
    storage._store([Message(constants.INFO, "You have been signed out.")], response)
    client.cookies["messages"] = response.cookies["messages"].value

    with_message = client.get("/styles/").content.decode()
    del client.cookies["messages"]
    without = client.get("/styles/").content.decode()

    assert "You have been signed out." in with_message
    assert "You have been signed out." not in without


HEADERS_OF_EVERY_PAGE = ("Content-Security-Policy", "Content-Language", "Vary", "X-Frame-Options", "Permissions-Policy")


def headers_of(response) -> dict:
    return {name: sorted(response.get(name, "").split(", ")) for name in HEADERS_OF_EVERY_PAGE}


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_a_page_from_the_cache_carries_the_headers_of_a_page_made_for_the_visitor(client, url):
    StyleTemplateFactory()
    made = client.get(url)
    kept = client.get(url)

    assert kept.content == made.content
    assert headers_of(kept) == headers_of(made)
    assert kept["Content-Security-Policy"] and "Cookie" in kept["Vary"] and "Accept-Language" in kept["Vary"]
    assert "csrftoken" not in kept.cookies


@pytest.mark.parametrize("url", ["/", "/styles/"])
def test_each_language_is_kept_apart(client, url):
    StyleTemplateFactory()
    with translation.override("en"):  # the pages' language is the thread's: given back after
        english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        english_again = client.get(url, HTTP_ACCEPT_LANGUAGE="en")

    assert (english["Content-Language"], chinese["Content-Language"]) == ("en", "zh-hans")
    assert chinese.content != english.content and english_again.content == english.content


@pytest.mark.parametrize("url", ["/", "/styles/"])
def test_a_signed_in_header_is_never_served_to_anyone_else(client, url):
    from django.test import Client

    StyleTemplateFactory()
    signed_in = Client()
    signed_in.force_login(UserFactory())
    assert "Sign out" in signed_in.get(url).content.decode()

    for _ in range(2):  # made, then from the cache
        assert "Sign out" not in client.get(url).content.decode()
    assert "Sign out" in signed_in.get(url).content.decode()
