"""Templates (public) and template requests with votes through the API."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from styles.models import TemplateRequest, TemplateVote
from tests.api_clients import error_of
from tests.factories import StyleTemplateFactory, TemplateRequestFactory, TemplateVoteFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_templates_are_public_and_published_only(anonymous):
    shown = StyleTemplateFactory(title="Studio", sort_order=1)
    StyleTemplateFactory(is_published=False, slug="draft")

    listed = anonymous.get("/api/v1/templates/")
    detail = anonymous.get(f"/api/v1/templates/{shown.slug}/")
    hidden = anonymous.get("/api/v1/templates/draft/")

    assert listed.status_code == 200
    assert [t["slug"] for t in listed.json()["results"]] == [shown.slug]
    assert detail.json()["title"] == "Studio" and detail.json()["used_by"] == 0
    assert hidden.status_code == 404 and error_of(hidden)["code"] == "not_found"


def test_staff_see_only_published_templates_through_the_api(db):
    from tests.api_clients import token_client

    StyleTemplateFactory(is_published=False, slug="draft")

    response = token_client(UserFactory(is_staff=True)).get("/api/v1/templates/draft/")

    assert response.status_code == 404


def test_requests_are_ranked_by_votes_with_my_vote_marked(api, user):
    quiet = TemplateRequestFactory(title="Quiet")
    popular = TemplateRequestFactory(title="Popular")
    TemplateVoteFactory.create_batch(2, request=popular)
    TemplateVoteFactory(request=popular, user=user)
    TemplateRequestFactory(title="Declined", status=TemplateRequest.Status.DECLINED)

    results = api.get("/api/v1/template-requests/").json()["results"]

    assert [(r["title"], r["vote_count"], r["has_voted"]) for r in results] == [
        ("Popular", 3, True),
        ("Quiet", 0, False),
    ]
    assert quiet.pk == results[1]["id"]


def test_anyone_may_read_requests_but_only_members_propose(anonymous):
    TemplateRequestFactory()

    assert anonymous.get("/api/v1/template-requests/").status_code == 200
    refused = anonymous.post("/api/v1/template-requests/", {"title": "Beach"}, format="json")
    assert refused.status_code == 401


def test_proposing_a_request_casts_my_vote(api, user):
    response = api.post(
        "/api/v1/template-requests/", {"title": "  Old  Hollywood ", "description": "Glam"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["vote_count"], body["has_voted"], body["is_mine"]) == (
        "Old Hollywood",
        1,
        True,
        True,
    )
    assert TemplateVote.objects.filter(user=user, request_id=body["id"]).exists()


def test_proposing_with_a_reference_image(api, monkeypatch):
    monkeypatch.setattr("styles.services.requests._nudity_verdict", lambda image: type("Verdict", (), {"is_safe": True})())
    png = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(png, format="PNG")

    response = api.post(
        "/api/v1/template-requests/",
        {
            "title": "Snow",
            "reference_image": SimpleUploadedFile("ref.png", png.getvalue(), content_type="image/png"),
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    assert TemplateRequest.objects.get(pk=response.json()["id"]).reference_image


def test_a_duplicate_request_is_a_conflict_that_says_to_vote(api):
    TemplateRequestFactory(title="Old Hollywood")

    response = api.post("/api/v1/template-requests/", {"title": "old hollywood"}, format="json")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "duplicate"
    assert "Vote for it instead" in error["message"] and "title" in error["fields"]


def test_an_empty_title_is_a_field_error(api):
    response = api.post("/api/v1/template-requests/", {"title": "   "}, format="json")

    assert response.status_code == 400
    assert "title" in error_of(response)["fields"]


def test_vote_toggles_and_delete_takes_it_back(api, user):
    request = TemplateRequestFactory()
    url = f"/api/v1/template-requests/{request.pk}/vote/"

    assert api.post(url).json() == {"voted": True, "vote_count": 1}
    assert api.post(url).json() == {"voted": False, "vote_count": 0}
    assert api.put(url).json() == {"voted": True, "vote_count": 1}
    assert api.put(url).json() == {"voted": True, "vote_count": 1}
    assert api.delete(url).json() == {"voted": False, "vote_count": 0}
    assert api.delete(url).json() == {"voted": False, "vote_count": 0}
    assert not TemplateVote.objects.filter(user=user).exists()


def test_votes_on_closed_requests_are_refused_with_the_reason(api):
    shipped = TemplateRequestFactory(status=TemplateRequest.Status.SHIPPED)

    response = api.post(f"/api/v1/template-requests/{shipped.pk}/vote/")

    assert response.status_code == 409
    assert error_of(response)["code"] == "vote_refused"
    assert "shipped" in error_of(response)["message"]


def test_voting_on_a_missing_request_is_404(api):
    assert api.post("/api/v1/template-requests/999999/vote/").status_code == 404


def test_votes_are_throttled(api, throttle_rate):
    request = TemplateRequestFactory()
    throttle_rate("votes", "2/min")

    statuses = [api.post(f"/api/v1/template-requests/{request.pk}/vote/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert api.get("/api/v1/template-requests/").status_code == 200


@pytest.mark.parametrize("rows", [3, 25])
def test_the_template_list_takes_the_same_queries_for_any_number_of_rows(
    anonymous, rows, django_assert_num_queries
):
    StyleTemplateFactory.create_batch(rows)

    # the catalogue's version (the public-page cache key), count, page of templates with their usage
    with django_assert_num_queries(3):
        response = anonymous.get("/api/v1/templates/")

    assert response.json()["count"] == rows


@pytest.mark.parametrize("rows", [3, 25])
def test_the_request_list_takes_the_same_queries_for_any_number_of_rows(
    api, user, rows, django_assert_num_queries
):
    for request in TemplateRequestFactory.create_batch(rows):
        TemplateVoteFactory(request=request, user=user)

    # token, its last use (once a minute), count, page of requests with votes counted and mine marked
    with django_assert_num_queries(4):
        response = api.get("/api/v1/template-requests/")

    assert response.json()["count"] == rows


def test_vote_throttle_counts_live_in_the_shared_cache(api, user):
    """Django's default cache holds the counts (Redis when REDIS_URL is set), so every process sees them."""
    from django.core.cache import cache

    request = TemplateRequestFactory()

    api.post(f"/api/v1/template-requests/{request.pk}/vote/")

    assert len(cache.get(f"throttle_votes_{user.pk}")) == 1
