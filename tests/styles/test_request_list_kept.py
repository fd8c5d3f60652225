"""The request list kept for each signed-in person: a reload costs the one query that reads its
version, and whatever the page shows them (the ranking, their votes, the header) makes it anew."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.notices import notice_create
from styles import services
from styles.models import StyleTemplate
from tests.factories import StyleTemplateFactory, TemplateRequestFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADERS_OF_EVERY_PAGE = ("Content-Security-Policy", "Content-Language", "Vary", "X-Frame-Options", "Cache-Control")


def headers_of(response) -> dict:
    return {name: sorted(response.get(name, "").split(", ")) for name in HEADERS_OF_EVERY_PAGE}


def browser(user):
    """A signed-in browser that has loaded a page before: it holds its CSRF cookie."""
    client = Client()
    client.force_login(user)
    client.get(reverse("styles:requests"))
    return client


@pytest.fixture
def listed():
    requests = TemplateRequestFactory.create_batch(3)
    return requests


def test_a_reload_reads_the_version_and_nothing_else(listed, django_assert_num_queries, session_read_queries):
    client = browser(UserFactory())
    first = client.get(reverse("styles:requests"))

    with django_assert_num_queries(session_read_queries + 1 + 1):  # the session, the user; the version
        again = client.get(reverse("styles:requests"))
    with django_assert_num_queries(session_read_queries + 1 + 1):
        not_modified = client.get(reverse("styles:requests"), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200 and again.content == first.content
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert headers_of(again) == headers_of(first)
    assert "private" in again["Cache-Control"]


def my_vote(user, listed):
    services.template_request_vote_set(user=user, request_id=listed[0].pk, voted=True)


def their_vote(user, listed):
    services.template_request_vote_set(user=UserFactory(), request_id=listed[1].pk, voted=True)


def a_notice(user, listed):
    notice_create(user=user, message="A style you asked for is here.")


def a_style_published(user, listed):
    StyleTemplateFactory(is_published=True)


def a_style_renamed(user, listed):
    template = StyleTemplate.objects.first() or StyleTemplateFactory()
    template.title = "Renamed"
    template.save()


def email_verified(user, listed):
    from django.utils import timezone

    type(user).objects.filter(pk=user.pk).update(email_verified_at=None if user.email_verified_at else timezone.now())


@pytest.mark.parametrize("change", [my_vote, their_vote, a_notice, a_style_published, a_style_renamed, email_verified])
def test_every_change_to_what_the_page_shows_makes_it_anew(listed, change, django_capture_on_commit_callbacks):
    user = UserFactory()
    client = browser(user)
    before = client.get(reverse("styles:requests"))
    with django_capture_on_commit_callbacks(execute=True):  # as the change's transaction commits
        change(user, listed)

    after = client.get(reverse("styles:requests"), HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200 and after.content != before.content


def test_a_kept_page_is_never_served_to_someone_else(listed):
    mine, theirs = UserFactory(), UserFactory()
    services.template_request_vote_set(user=mine, request_id=listed[0].pk, voted=True)
    kept = browser(mine).get(reverse("styles:requests"))

    for other in (browser(theirs), Client()):
        page = other.get(reverse("styles:requests"), HTTP_IF_NONE_MATCH=kept["ETag"])
        assert page.status_code == 200 and page.content != kept.content
    assert b"Sign out" not in Client().get(reverse("styles:requests")).content


def test_a_one_off_message_shows_and_the_page_is_not_kept_with_it(listed):
    user = UserFactory()
    services.template_request_vote_set(user=user, request_id=listed[0].pk, voted=True)
    client = browser(user)
    client.get(reverse("styles:requests"))  # kept; the vote below changes nothing it shows
    vote = client.post(reverse("styles:request_vote", args=[listed[0].pk]), {"voted": "1"}, follow=True)
    assert "Your vote is counted." in vote.content.decode()

    again = client.get(reverse("styles:requests"))
    assert "Your vote is counted." not in again.content.decode()


def test_each_language_gets_its_own_page():
    user = UserFactory()
    client = browser(user)
    # The pages' language is the thread's: given back when the test is done.
    with translation.override("en"):
        english = client.get(reverse("styles:requests"), HTTP_ACCEPT_LANGUAGE="en")
        client.cookies.load({"django_language": "zh-hans"})
        chinese = client.get(reverse("styles:requests"))

    assert english["Content-Language"] == "en" and chinese["Content-Language"] == "zh-hans"
    assert chinese.content != english.content
