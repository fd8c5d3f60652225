"""Portraits through the API: list, likeness, download, more like me, re-roll, delete."""

import pytest
from django.core.files.base import ContentFile

from avatars.models import Avatar, Portrait, RenderJob
from tests.api_clients import error_of
from tests.factories import AvatarFactory, PortraitFactory, StyleTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def portrait(user):
    portrait = PortraitFactory(
        avatar=AvatarFactory(user=user, status=Avatar.Status.READY),
        template=StyleTemplateFactory(slug="studio"),
        likeness_score=81.5,
    )
    portrait.image.save("portrait.png", ContentFile(b"\x89PNG portrait bytes"))
    return portrait


def test_list_and_detail_show_likeness_and_links(api, portrait):
    listed = api.get("/api/v1/portraits/").json()

    [item] = listed["results"]
    assert item["id"] == str(portrait.public_id)
    assert item["likeness_score"] == 81.5
    assert item["template"] == {"slug": "studio", "title": portrait.template.title}
    assert item["download_url"] == f"/api/v1/portraits/{portrait.public_id}/download/"
    assert item["web_download_url"] == f"/avatars/portraits/{portrait.public_id}/download/"
    detail = api.get(f"/api/v1/portraits/{portrait.public_id}/").json()
    assert [v["id"] for v in detail["versions"]] == [str(portrait.public_id)]


def test_list_filters_by_avatar(api, user, portrait):
    other_avatar = AvatarFactory(user=user, status=Avatar.Status.READY)
    PortraitFactory(avatar=other_avatar)

    mine = api.get("/api/v1/portraits/", {"avatar": str(portrait.avatar.public_id)}).json()
    bad = api.get("/api/v1/portraits/", {"avatar": "nope"})

    assert [p["id"] for p in mine["results"]] == [str(portrait.public_id)]
    assert api.get("/api/v1/portraits/").json()["count"] == 2
    assert bad.status_code == 400 and "avatar" in error_of(bad)["fields"]


def test_the_token_client_downloads_the_file_and_the_download_counts(api, portrait):
    response = api.get(f"/api/v1/portraits/{portrait.public_id}/download/", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response.content == b"\x89PNG portrait bytes"  # not a PNG the metadata can go into: as stored
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="likeness-studio-original-1-likeness-82.png"'
    assert response["Cache-Control"] == "private, no-store"
    portrait.refresh_from_db()
    assert portrait.download_count == 1


def test_the_web_download_url_works_with_the_session(client, user, portrait):
    client.force_login(user)

    response = client.get(f"/avatars/portraits/{portrait.public_id}/download/")

    assert response.status_code == 200


@pytest.mark.parametrize(("action", "kind"), [("more-like-me", "more_like_me"), ("reroll", "reroll")])
def test_more_like_me_and_reroll_queue_a_render_from_the_portrait(
    api, portrait, action, kind, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        response = api.post(f"/api/v1/portraits/{portrait.public_id}/{action}/")

    assert response.status_code == 202
    job = RenderJob.objects.get(source_portrait=portrait)
    assert (job.kind, job.template_id) == (kind, portrait.template_id)
    assert response.json()["id"] == job.pk and response.json()["source_portrait"] == str(portrait.public_id)


@pytest.mark.parametrize("action", ["more-like-me", "reroll"])
def test_rendering_again_needs_a_ready_avatar(api, portrait, action):
    Avatar.objects.filter(pk=portrait.avatar_id).update(status=Avatar.Status.FAILED)

    response = api.post(f"/api/v1/portraits/{portrait.public_id}/{action}/")

    assert response.status_code == 409
    assert error_of(response)["message"] == "This avatar can't render any more: it is no longer ready."
    assert not RenderJob.objects.exists()


def test_deleting_a_portrait_answers_with_a_receipt(api, portrait):
    response = api.delete(f"/api/v1/portraits/{portrait.public_id}/")

    assert response.status_code == 200
    assert response.json()["scope"] == "portrait" and response.json()["removed"]["portraits"] == 1
    assert not Portrait.objects.exists()


@pytest.mark.parametrize("rows", [3, 25])
def test_the_portrait_list_takes_the_same_queries_for_any_number_of_rows(
    api, user, rows, django_assert_num_queries
):
    avatar = AvatarFactory(user=user, status=Avatar.Status.READY)
    first = PortraitFactory(avatar=avatar)
    PortraitFactory.create_batch(rows - 1, avatar=avatar, more_like_me_of=first)

    # token, its last use (once a minute), count, page of portraits with avatar, template and source joined
    with django_assert_num_queries(4):
        response = api.get("/api/v1/portraits/")

    assert response.json()["count"] == rows


def test_a_tiny_engine_portrait_says_so_in_its_json_its_file_name_and_its_metadata(api, user):
    from io import BytesIO

    from PIL import Image

    pixels = BytesIO()
    Image.new("RGB", (8, 10), (120, 80, 60)).save(pixels, format="PNG")
    avatar = AvatarFactory(user=user, status=Avatar.Status.READY, engine_label="tiny engine: not a real model")
    portrait = PortraitFactory(avatar=avatar, template=StyleTemplateFactory(slug="noir"),
                               engine_label="tiny engine: not a real model")
    portrait.image.save("portrait.png", ContentFile(pixels.getvalue()))

    listed = api.get("/api/v1/portraits/").json()["results"][0]
    mine = api.get(f"/api/v1/avatars/{avatar.public_id}/").json()
    response = api.get(f"/api/v1/portraits/{portrait.public_id}/download/")

    expected = {"label": "tiny engine: not a real model", "test_output": True}
    assert listed["engine"] == expected and mine["engine"] == expected
    assert response["Content-Disposition"] == 'attachment; filename="likeness-tiny-engine-noir-original-1.png"'
    with Image.open(BytesIO(response.content)) as downloaded:
        assert downloaded.text["Comment"] == "Engine: tiny engine: not a real model"
        assert downloaded.size == (8, 10)
        assert downloaded.convert("RGB").getpixel((3, 3)) == (120, 80, 60)
