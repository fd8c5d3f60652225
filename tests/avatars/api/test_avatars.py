"""Avatars through the API: create, readiness, photo uploads with verdicts, templates, progress."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import Avatar, Photo, RenderJob, TrainingJob
from tests.api_clients import REQUIRED_PHOTOS, error_of, token_client
from tests.factories import AvatarFactory, PhotoFactory, PortraitFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_create_then_list_and_read_an_avatar(api, user):
    created = api.post("/api/v1/avatars/", {"name": "  Me at work ", "subject_class": "woman"}, format="json")

    assert created.status_code == 201
    body = created.json()
    avatar = Avatar.objects.get(public_id=body["id"])
    assert (avatar.user, avatar.name, avatar.subject_class) == (user, "Me at work", "woman")
    assert body["status"] == "collecting"
    assert body["readiness"] == {
        "accepted": 0,
        "required": REQUIRED_PHOTOS,
        "missing": REQUIRED_PHOTOS,
        "ready": False,
    }
    listed = api.get("/api/v1/avatars/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert api.get(f"/api/v1/avatars/{avatar.public_id}/").json()["name"] == "Me at work"


def test_create_refuses_an_unknown_subject_with_field_errors(api):
    response = api.post("/api/v1/avatars/", {"subject_class": "cat"}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert "subject_class" in error["fields"]
    assert not Avatar.objects.exists()


def test_detail_shows_readiness_and_the_refused_photos_with_reasons(api, user):
    avatar = AvatarFactory(user=user)
    PhotoFactory.create_batch(REQUIRED_PHOTOS, avatar=avatar)
    PhotoFactory(avatar=avatar, status=Photo.Status.REJECTED, reason_code="several_faces",
                 reason_details={"count": 3})
    PhotoFactory(avatar=avatar, status=Photo.Status.REMOVED)

    body = api.get(f"/api/v1/avatars/{avatar.public_id}/").json()

    assert body["readiness"] == {
        "accepted": REQUIRED_PHOTOS,
        "required": REQUIRED_PHOTOS,
        "missing": 0,
        "ready": True,
    }
    assert [(p["reason_code"], p["reason"]) for p in body["refused_photos"]] == [(
        "several_faces",
        "Only one person should be in the photo: we found 3 faces. Please use photos of you alone, or crop the others out.",
    )]
    listed = api.get("/api/v1/avatars/").json()["results"][0]
    assert listed["readiness"]["accepted"] == REQUIRED_PHOTOS


def test_upload_gives_each_photo_its_own_verdict(api, user, faces_dir):
    avatar = AvatarFactory(user=user)
    files = [
        SimpleUploadedFile(
            "obama.jpg",
            (faces_dir / "obama" / sorted((faces_dir / "obama").iterdir())[0].name).read_bytes(),
            content_type="image/jpeg",
        ),
        SimpleUploadedFile("notes.txt", b"not a picture", content_type="text/plain"),
    ]

    response = api.post(f"/api/v1/avatars/{avatar.public_id}/photos/", {"photos": files}, format="multipart")

    assert response.status_code == 201, response.content
    body = response.json()
    first, second = body["results"]
    assert (first["name"], first["accepted"], first["reason_code"]) == ("obama.jpg", True, "")
    assert (second["name"], second["accepted"]) == ("notes.txt", False)
    assert second["reason_code"] and second["reason"]
    assert body["readiness"]["accepted"] == 1
    assert Photo.objects.filter(avatar=avatar, status="accepted").count() == 1
    photos = api.get(f"/api/v1/avatars/{avatar.public_id}/photos/").json()
    assert [p["name"] for p in photos["results"]] == ["obama.jpg", "notes.txt"]
    image = api.get(photos["results"][0]["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image["Cache-Control"] == "private, no-store"


def test_upload_without_files_is_a_field_error(api, user):
    avatar = AvatarFactory(user=user)

    response = api.post(f"/api/v1/avatars/{avatar.public_id}/photos/", {}, format="multipart")

    assert response.status_code == 400
    assert "photos" in error_of(response)["fields"]


def test_upload_to_a_paid_avatar_is_a_conflict_with_the_services_reason(api, user):
    avatar = AvatarFactory(user=user, status=Avatar.Status.PAID)
    upload = SimpleUploadedFile("me.jpg", b"whatever", content_type="image/jpeg")

    response = api.post(
        f"/api/v1/avatars/{avatar.public_id}/photos/", {"photos": [upload]}, format="multipart"
    )

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "avatar_state"
    assert "already paid" in error["message"]
    assert not Photo.objects.exists()


def junk_photo(name: str = "a.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"not a picture", content_type="image/jpeg")


def test_the_page_and_the_api_share_one_photo_budget_per_person(api, user, client, settings):
    settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR = 3
    avatar = AvatarFactory(user=user)
    other = AvatarFactory(user=user)
    client.force_login(user)
    api_url = f"/api/v1/avatars/{avatar.public_id}/photos/"
    page_url = f"/avatars/{other.public_id}/photos/"

    two_by_api = api.post(api_url, {"photos": [junk_photo("1.jpg"), junk_photo("2.jpg")]}, format="multipart")
    one_by_page = client.post(page_url, {"photos": [junk_photo("3.jpg")]})
    refused_by_page = client.post(page_url, {"photos": [junk_photo("4.jpg")]})
    refused_by_api = api.post(api_url, {"photos": [junk_photo("5.jpg")]}, format="multipart")
    listing = api.get(api_url)

    assert (two_by_api.status_code, one_by_page.status_code) == (201, 201)
    for refused in (refused_by_page, refused_by_api):
        assert refused.status_code == 429
        error = error_of(refused)
        assert error["code"] == "throttled"
        assert "in an hour (3)" in error["message"] and "Try again in" in error["message"]
    assert Photo.objects.count() == 3, "a refused request keeps nothing"
    assert listing.status_code == 200, "reading the photo list must not use up the upload budget"


def test_a_batch_too_big_for_the_budget_left_is_refused_whole_and_uses_none_of_it(api, user, settings):
    settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR = 3
    avatar = AvatarFactory(user=user)
    url = f"/api/v1/avatars/{avatar.public_id}/photos/"

    too_many = api.post(url, {"photos": [junk_photo(f"{i}.jpg") for i in range(4)]}, format="multipart")
    fits = api.post(url, {"photos": [junk_photo(f"{i}.jpg") for i in range(3)]}, format="multipart")

    assert (too_many.status_code, fits.status_code) == (429, 201)
    assert Photo.objects.count() == 3


def test_budgets_are_per_person(api, user, settings):
    settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR = 1
    someone = UserFactory()
    theirs = AvatarFactory(user=someone)
    mine = AvatarFactory(user=user)

    assert token_client(someone).post(
        f"/api/v1/avatars/{theirs.public_id}/photos/", {"photos": [junk_photo()]}, format="multipart"
    ).status_code == 201
    assert api.post(
        f"/api/v1/avatars/{mine.public_id}/photos/", {"photos": [junk_photo()]}, format="multipart"
    ).status_code == 201


def upload_from(user, count: int = 1, **address):
    avatar = AvatarFactory(user=user)
    return token_client(user).post(f"/api/v1/avatars/{avatar.public_id}/photos/",
                                   {"photos": [junk_photo(f"{i}.jpg") for i in range(count)]},
                                   format="multipart", **address)


def test_accounts_sharing_one_address_share_its_photo_budget(settings):
    settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR = 10
    settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR_PER_ADDRESS = 2
    users = UserFactory.create_batch(3)

    first, second, third = (upload_from(user) for user in users)
    elsewhere = upload_from(users[2], REMOTE_ADDR="203.0.113.9")

    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 429)
    assert "one network address can upload in an hour (2)" in error_of(third)["message"]
    assert elsewhere.status_code == 201


def test_a_batch_the_address_refuses_uses_none_of_the_account_budget(settings):
    settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR = 3
    settings.LIKENESS_PHOTO_UPLOADS_PER_HOUR_PER_ADDRESS = 4
    neighbour, user = UserFactory.create_batch(2)

    assert upload_from(neighbour, 3).status_code == 201
    refused = upload_from(user, 2)
    from_home = upload_from(user, 3, REMOTE_ADDR="203.0.113.9")

    assert refused.status_code == 429 and "network address" in error_of(refused)["message"]
    assert from_home.status_code == 201, "the refused batch must not have used the person's own budget"


def test_removing_a_photo(api, user):
    avatar = AvatarFactory(user=user)
    photo = PhotoFactory(avatar=avatar)

    response = api.delete(f"/api/v1/avatars/{avatar.public_id}/photos/{photo.pk}/")

    assert response.status_code == 204
    photo.refresh_from_db()
    assert photo.status == Photo.Status.REMOVED
    assert api.get(f"/api/v1/avatars/{avatar.public_id}/photos/").json()["count"] == 0


def test_choosing_templates_takes_published_slugs_only(api, user):
    avatar = AvatarFactory(user=user)
    chosen = StyleTemplateFactory()
    hidden = StyleTemplateFactory(is_published=False)
    url = f"/api/v1/avatars/{avatar.public_id}/templates/"

    refused = api.put(url, {"templates": [chosen.slug, hidden.slug]}, format="json")
    accepted = api.put(url, {"templates": [chosen.slug]}, format="json")

    assert refused.status_code == 400 and "templates" in error_of(refused)["fields"]
    assert accepted.status_code == 200 and accepted.json()["templates"] == [chosen.slug]
    assert list(avatar.templates.all()) == [chosen]


def test_choosing_templates_of_a_paid_avatar_is_a_conflict(api, user):
    avatar = AvatarFactory(user=user, status=Avatar.Status.PAID)

    response = api.put(
        f"/api/v1/avatars/{avatar.public_id}/templates/",
        {"templates": [StyleTemplateFactory().slug]},
        format="json",
    )

    assert response.status_code == 409
    assert "fixed" in error_of(response)["message"]


def test_progress_lists_the_jobs_with_queue_positions(api, user):
    avatar = AvatarFactory(user=user, status=Avatar.Status.TRAINING)
    TrainingJob.objects.create(avatar=avatar, status="running", progress=40, stage="training")
    RenderJob.objects.create(avatar=avatar, template=StyleTemplateFactory(title="Studio"))

    body = api.get(f"/api/v1/avatars/{avatar.public_id}/progress/").json()

    assert body["avatar_status"] == "training"
    assert [(j["kind"], j["status"], j["progress"]) for j in body["jobs"]] == [
        ("training", "running", 40),
        ("render", "queued", 0),
    ]
    assert body["jobs"][1]["queue_position"] == 1
    assert body["done"] is False


def test_render_more_queues_jobs_for_a_ready_avatar(api, user, django_capture_on_commit_callbacks):
    avatar = AvatarFactory(user=user, status=Avatar.Status.READY)
    templates = StyleTemplateFactory.create_batch(2)

    with django_capture_on_commit_callbacks():
        response = api.post(
            f"/api/v1/avatars/{avatar.public_id}/render-more/",
            {"templates": [t.slug for t in templates]},
            format="json",
        )

    assert response.status_code == 202
    assert sorted(j["template"] for j in response.json()["jobs"]) == sorted(t.slug for t in templates)
    assert RenderJob.objects.filter(avatar=avatar, kind="extra").count() == 2


def test_deleting_an_avatar_answers_with_a_receipt(api, user):
    avatar = AvatarFactory(user=user, status=Avatar.Status.READY, name="Old me")
    PortraitFactory(avatar=avatar)

    response = api.delete(f"/api/v1/avatars/{avatar.public_id}/")

    assert response.status_code == 200
    receipt = response.json()
    assert receipt["scope"] == "avatar"
    assert receipt["removed"]["portraits"] == 1 and receipt["removed"]["avatar_names"] == ["Old me"]
    assert receipt["url"].endswith(f"/receipts/{receipt['token']}/")
    assert not Avatar.objects.filter(pk=avatar.pk).exists()


@pytest.mark.parametrize("rows", [3, 25])
def test_the_avatar_list_takes_the_same_queries_for_any_number_of_rows(
    api, user, rows, django_assert_num_queries
):
    template = StyleTemplateFactory()
    for avatar in AvatarFactory.create_batch(rows, user=user):
        PhotoFactory(avatar=avatar)
        avatar.templates.add(template)

    # token, its last use (once a minute), count, page of avatars, their templates
    with django_assert_num_queries(5):
        response = api.get("/api/v1/avatars/")

    assert len(response.json()["results"]) == min(rows, 20)


@pytest.mark.parametrize("rows", [3, 25])
def test_the_photo_list_takes_the_same_queries_for_any_number_of_rows(
    api, user, rows, django_assert_num_queries
):
    avatar = AvatarFactory(user=user)
    originals = PhotoFactory.create_batch(rows, avatar=avatar)
    for original in originals:
        PhotoFactory(avatar=avatar, status=Photo.Status.REJECTED, reason_code="duplicate", duplicate_of=original)

    # token, its last use (once a minute), avatar, count, page of photos (with the photos they copy)
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/avatars/{avatar.public_id}/photos/")

    assert response.json()["count"] == 2 * rows


def test_a_duplicate_names_the_earlier_photo_it_copies_in_the_api_and_on_the_page(api, user, client):
    avatar = AvatarFactory(user=user)
    original = PhotoFactory(avatar=avatar, original_name="beach.jpg", image="photos/x/beach.jpg")
    PhotoFactory(avatar=avatar, original_name="beach-stretched.jpg", status=Photo.Status.REJECTED,
                        reason_code="duplicate", duplicate_of=original)
    client.force_login(user)

    listed = {p["name"]: p for p in api.get(f"/api/v1/avatars/{avatar.public_id}/photos/").json()["results"]}
    page = client.get(f"/avatars/{avatar.public_id}/").content.decode()

    assert listed["beach-stretched.jpg"]["duplicate_of"] == {
        "id": original.pk, "name": "beach.jpg",
        "image_url": f"/api/v1/avatars/{avatar.public_id}/photos/{original.pk}/image/",
    }
    assert listed["beach.jpg"]["duplicate_of"] is None
    assert "Same shot as beach.jpg" in page
    assert f"/avatars/{avatar.public_id}/photos/{original.pk}/thumbnail/" in page


def test_a_failed_avatar_is_reopened_for_a_new_photo_set(api, user):
    failed = AvatarFactory(user=user, status=Avatar.Status.FAILED)
    ready = AvatarFactory(user=user, status=Avatar.Status.READY)

    reopened = api.post(f"/api/v1/avatars/{failed.public_id}/reopen/")
    refused = api.post(f"/api/v1/avatars/{ready.public_id}/reopen/")

    assert reopened.status_code == 200 and reopened.json()["status"] == "collecting"
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "Only an avatar whose training failed can be started again."


def _upload_answer(client, url: str, files: list[tuple[str, bytes]]):
    response = client.post(
        url, {"photos": [SimpleUploadedFile(name, data, content_type="image/jpeg") for name, data in files]},
        format="multipart",
    )
    body = response.json()
    # Two avatars: the ids (and the URLs built from them) differ, everything else must not.
    for photo in [*body.get("results", []), *body.get("photos", [])]:
        photo.pop("id"), photo.pop("image_url"), photo.pop("created_at", None)
    return response.status_code, body


@pytest.mark.parametrize("status", [Avatar.Status.COLLECTING, Avatar.Status.PAID])
def test_the_page_and_the_api_answer_the_same_for_the_same_upload(api, user, faces_dir, status):
    from django.test import Client
    from django.urls import reverse

    files = [
        ("obama.jpg", (faces_dir / "obama" / "obama-1.jpg").read_bytes()),
        ("notes.txt", b"not a picture"),
    ]
    on_page, on_api = AvatarFactory(user=user, status=status), AvatarFactory(user=user, status=status)
    browser = Client()
    browser.force_login(user)

    page = _upload_answer(browser, reverse("avatars:photo_upload", args=[on_page.public_id]), files)
    api_answer = _upload_answer(api, f"/api/v1/avatars/{on_api.public_id}/photos/", files)

    assert page == api_answer
    if status == Avatar.Status.COLLECTING:
        assert page[0] == 201
        assert [(r["accepted"], r["reason_code"]) for r in page[1]["results"]] == [(True, ""), (False, "not_an_image")]
    else:
        assert page[0] == 409 and page[1]["error"]["code"] == "avatar_state"
