"""Anonymous visitors get public pages from a short cache; nothing personal is ever cached."""

import pytest
from django.contrib.messages import constants

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
