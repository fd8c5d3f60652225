"""The header's unread notices, kept in a shared cache under a version every write replaces: a
page reads "none" without a query, and a notice written anywhere shows on the next page."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from accounts.notices import notice_create, notices_take_unread
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(LIKENESS_CACHE_SHARED=True)
def test_a_page_with_no_unread_notice_asks_the_database_nothing_about_them(django_assert_num_queries):
    user = UserFactory()
    assert notices_take_unread(user=user) == []  # counted once, kept under the current version

    with django_assert_num_queries(0):
        assert notices_take_unread(user=user) == []


@override_settings(LIKENESS_CACHE_SHARED=True)
def test_a_notice_written_after_the_count_was_kept_shows_on_the_next_page_once():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    client.get(reverse("avatars:home"))  # "no notices" now kept

    notice_create(user=user, message="The style you voted for is live: “%(template)s”.", params={"template": "Noir"})

    assert "Noir" in client.get(reverse("avatars:home")).content.decode()
    assert "Noir" not in client.get(reverse("avatars:home")).content.decode()  # each shows once
