"""The template requests page: proposing and voting through it, its paging, and the cached list with each reader's own votes."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from styles import services
from styles.models import TemplateRequest, TemplateVote
from styles.services import (
    template_request_create,
    template_request_vote_set,
)
from styles.views import REQUESTS_PER_PAGE
from tests.factories import TemplateRequestFactory, TemplateVoteFactory, UserFactory

pytestmark = pytest.mark.django_db




def test_requests_page_lists_ranked_requests_for_anyone(client):
    TemplateVoteFactory.create_batch(2, request=TemplateRequestFactory(title="Popular"))
    TemplateRequestFactory(title="Quiet")
    response = client.get(reverse("styles:requests"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("Popular") < body.index("Quiet")
    assert "Sign in</a> to propose" in body


def test_script_in_titles_and_descriptions_renders_escaped(client):
    author = UserFactory()
    template_request_create(
        author=author, title="<script>alert(1)</script>", description="<img src=x onerror=alert(2)>"
    )
    client.force_login(author)
    body = client.get(reverse("styles:requests")).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img src=x" not in body


def test_a_signed_in_user_proposes_a_style_and_sees_it_with_their_vote(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("styles:requests"), {"title": "Rooftop at dusk", "description": "City lights"},
                           follow=True)
    assert response.status_code == 200
    created = TemplateRequest.objects.get()
    assert created.author == user and created.votes.filter(user=user).exists()
    assert "Take back my vote" in response.content.decode()


def test_proposing_needs_a_signed_in_user(client):
    response = client.post(reverse("styles:requests"), {"title": "Anonymous"})
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert not TemplateRequest.objects.exists()


def test_the_page_shows_form_errors_for_bad_titles(client):
    client.force_login(UserFactory())
    response = client.post(reverse("styles:requests"), {"title": "t" * 10_000})
    assert response.status_code == 200
    assert "at most 120 characters" in response.content.decode()
    assert not TemplateRequest.objects.exists()


def test_a_duplicate_title_offers_a_vote_for_the_existing_request(client):
    existing = TemplateRequestFactory(title="Misty forest")
    client.force_login(UserFactory())
    response = client.post(reverse("styles:requests"), {"title": "MISTY forest"})
    body = response.content.decode()
    assert TemplateRequest.objects.count() == 1
    assert reverse("styles:request_vote", args=[existing.pk]) in body
    assert "Vote for “Misty forest” instead" in body


def test_voting_through_the_page_is_idempotent_per_intended_state(client):
    request = TemplateRequestFactory()
    voter = UserFactory()
    client.force_login(voter)
    url = reverse("styles:request_vote", args=[request.pk])
    client.post(url, {"voted": "1"})
    client.post(url, {"voted": "1"})  # a double-click
    assert TemplateVote.objects.filter(request=request, user=voter).count() == 1
    client.post(url, {"voted": "0"})
    assert not TemplateVote.objects.filter(request=request, user=voter).exists()
    client.post(url)
    assert TemplateVote.objects.filter(request=request, user=voter).count() == 1


def test_a_refused_vote_says_why_on_the_page(client):
    request = TemplateRequestFactory(status=TemplateRequest.Status.DECLINED)
    client.force_login(UserFactory())
    response = client.post(reverse("styles:request_vote", args=[request.pk]), {"voted": "1"}, follow=True)
    assert "declined, so it no longer takes votes" in response.content.decode()
    assert not TemplateVote.objects.exists()


def test_voting_needs_a_post_from_a_signed_in_user(client):
    request = TemplateRequestFactory()
    url = reverse("styles:request_vote", args=[request.pk])
    assert client.post(url).status_code == 302
    client.force_login(UserFactory())
    assert client.get(url).status_code == 405
    assert TemplateVote.objects.count() == 0


def test_reference_images_are_shown_to_staff_and_the_author_only(client, settings):
    request = TemplateRequestFactory()
    request.reference_image.save("x.png", SimpleUploadedFile("x.png", b"png bytes"), save=True)
    url = reverse("styles:request_reference", args=[request.pk])
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(request.author)
    assert client.get(url).status_code == 200
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 200



def test_the_page_shows_twenty_requests_at_a_time_and_pages_through_the_rest(client):
    for index in range(REQUESTS_PER_PAGE + 5):
        TemplateRequestFactory(title=f"Look number {index:02d}")
    first = client.get(reverse("styles:requests")).content.decode()
    second = client.get(reverse("styles:requests"), {"page": 2}).content.decode()

    assert first.count('class="request-item"') == REQUESTS_PER_PAGE
    assert second.count('class="request-item"') == 5
    assert "Look number 00" in first and "Look number 24" in second and "Look number 24" not in first
    assert 'start="21"' in second and "Page 2 of 2" in second
    # Nonsense or out-of-range pages show a real page rather than an error.
    assert client.get(reverse("styles:requests"), {"page": "x"}).status_code == 200
    assert "Look number 24" in client.get(reverse("styles:requests"), {"page": 99}).content.decode()


def test_after_a_vote_or_a_proposal_the_page_opens_where_the_request_now_ranks(client):
    popular = [TemplateRequestFactory(title=f"Popular {i:02d}") for i in range(REQUESTS_PER_PAGE)]
    for request in popular:
        TemplateVoteFactory.create_batch(2, request=request)
    quiet = TemplateRequestFactory(title="Quiet one")
    client.force_login(UserFactory())

    voted = client.post(reverse("styles:request_vote", args=[quiet.pk]), {"voted": "1"})
    assert voted["Location"] == f"{reverse('styles:requests')}?page=2#request-{quiet.pk}"
    TemplateVoteFactory.create_batch(2, request=quiet)  # now 3 votes: the most wanted
    voted = client.post(reverse("styles:request_vote", args=[quiet.pk]), {"voted": "1"})
    assert voted["Location"] == f"{reverse('styles:requests')}#request-{quiet.pk}"

    proposed = client.post(reverse("styles:requests"), {"title": "Brand new look"})
    created = TemplateRequest.objects.get(title="Brand new look")
    assert proposed["Location"] == f"{reverse('styles:requests')}?page=2#request-{created.pk}"



# --- The page from the cache --------------------------------------------------------


def vote_buttons(body: str) -> list[str]:
    return re.findall(r'formaction="/styles/requests/(\d+)/vote/" name="voted" value="(\d)"', body)


def test_one_cached_list_serves_everyone_each_with_their_own_vote_buttons(client):
    mine, theirs = TemplateRequestFactory(title="Mine"), TemplateRequestFactory(title="Theirs")
    me, them = UserFactory(), UserFactory()
    template_request_vote_set(user=me, request_id=mine.pk, voted=True)
    template_request_vote_set(user=them, request_id=theirs.pk, voted=True)

    assert "formaction" not in client.get(reverse("styles:requests")).content.decode()  # anonymous: no buttons
    client.force_login(me)
    mine_shown = vote_buttons(client.get(reverse("styles:requests")).content.decode())
    client.force_login(them)
    theirs_shown = vote_buttons(client.get(reverse("styles:requests")).content.decode())

    # The two pages are in the same order (one vote each, oldest first); each viewer's own vote can be taken back.
    assert mine_shown == [(str(mine.pk), "0"), (str(theirs.pk), "1")]
    assert theirs_shown == [(str(mine.pk), "1"), (str(theirs.pk), "0")]


def test_a_vote_through_the_page_shows_in_the_counts_at_once(client, django_capture_on_commit_callbacks):
    request = TemplateRequestFactory(title="Foggy harbour")
    TemplateVoteFactory.create_batch(2, request=request)
    client.force_login(UserFactory())
    assert "<strong>2</strong> votes" in client.get(reverse("styles:requests")).content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # the list's version changes once the vote commits
        client.post(reverse("styles:request_vote", args=[request.pk]), {"voted": "1"})
    after = client.get(reverse("styles:requests"))

    body = after.content.decode()
    assert "<strong>3</strong> votes" in body and "Take back my vote" in body


@pytest.mark.parametrize("change, before, after", [
    (lambda planned, declined: services.template_request_plan(request=planned), "Open", "Planned"),
    (lambda planned, declined: services.template_request_decline(request=declined), "Listed", "Gone"),
    (lambda planned, declined: template_request_create(author=UserFactory(), title="Brand new"), "Old", "New"),
    (lambda planned, declined: template_request_vote_set(user=UserFactory(), request_id=planned.pk, voted=True),
     "One vote", "Two votes"),
], ids=["planned", "declined", "proposed", "voted"])
def test_each_change_through_the_services_shows_on_the_cached_page_at_once(
    client, django_capture_on_commit_callbacks, change, before, after
):
    planned, declined = TemplateRequestFactory(title="To be planned"), TemplateRequestFactory(title="To be declined")
    TemplateVoteFactory(request=planned)
    url = reverse("styles:requests")

    def state(body: str) -> str:
        return {
            "planned": "Planned" if "Planned</p>" in body else "Open",
            "declined": "Listed" if "To be declined" in body else "Gone",
            "proposed": "New" if "Brand new" in body else "Old",
            "voted": "Two votes" if "<strong>2</strong> votes" in body else "One vote",
        }

    shown_before = state(client.get(url).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        change(planned, declined)
    shown_after = state(client.get(url).content.decode())

    changed = [name for name in shown_before if shown_before[name] != shown_after[name]]
    assert len(changed) == 1
    assert (shown_before[changed[0]], shown_after[changed[0]]) == (before, after)


def test_the_page_reloaded_costs_the_session_the_user_and_the_version_of_what_it_shows(
    client, django_assert_num_queries, session_read_queries
):
    for index in range(REQUESTS_PER_PAGE + 5):
        TemplateRequestFactory(title=f"Look number {index:02d}")
    client.force_login(UserFactory())
    client.get(reverse("styles:requests"))  # hands out the CSRF cookie: not kept
    client.get(reverse("styles:requests"))

    # The page is kept for the person (portrait_site.core.caching.personal_page_kept): one query
    # reads their votes, their notices and the published styles, which make its version.
    with django_assert_num_queries(session_read_queries + 1 + 1):
        response = client.get(reverse("styles:requests"))

    assert response.content.decode().count('class="request-item"') == REQUESTS_PER_PAGE
