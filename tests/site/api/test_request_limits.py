"""Request bodies: too large ones refused unread, no-length ones capped as read, deep JSON a 400."""

import io
import json

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import Avatar
from tests.api_clients import error_of
from tests.factories import AvatarFactory

pytestmark = pytest.mark.django_db

DEEP = 100_000


class UnreadableInput(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readinto = read


def test_a_body_nested_100000_deep_answers_400_in_the_error_envelope(api):
    body = "[" * DEEP + "]" * DEEP

    response = api.generic("POST", "/api/v1/avatars/", body, content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"
    assert "nested too deeply" in error_of(response)["message"]
    assert not Avatar.objects.exists()


def test_deep_json_is_a_400_wherever_the_api_takes_json(api, anonymous, user):
    body = "{\"a\":" * DEEP + "1" + "}" * DEEP
    avatar = AvatarFactory(user=user)
    calls = [
        (api, "POST", "/api/v1/template-requests/"),
        (api, "PUT", f"/api/v1/avatars/{avatar.public_id}/templates/"),
        (api, "PUT", "/api/v1/me/terms/"),
        (anonymous, "POST", "/api/v1/auth/token/"),
    ]

    answers = {
        (method, path): client.generic(method, path, body, content_type="application/json").status_code
        for client, method, path in calls
    }

    assert set(answers.values()) == {400}, answers


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(api, settings):
    response = api.generic(
        "POST", "/api/v1/avatars/", content_type="application/json",
        CONTENT_LENGTH=str(settings.LIKENESS_MAX_REQUEST_BODY_BYTES + 1), **{"wsgi.input": UnreadableInput()},
    )

    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert "too large" in error_of(response)["message"]
    assert not Avatar.objects.exists()


def test_a_body_without_a_length_is_cut_off_at_the_limit(api, settings):
    settings.LIKENESS_MAX_REQUEST_BODY_BYTES = 10_000
    body = json.dumps({"name": "x" * 20_000}).encode()

    response = api.generic(
        "POST", "/api/v1/avatars/", content_type="application/json",
        CONTENT_LENGTH="", **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert not Avatar.objects.exists()


def test_a_body_without_a_length_under_the_limit_is_read_as_any_other(api, settings):
    settings.LIKENESS_MAX_REQUEST_BODY_BYTES = 10_000
    body = json.dumps({"name": "Chunked"}).encode()

    response = api.generic(
        "POST", "/api/v1/avatars/", content_type="application/json",
        CONTENT_LENGTH="", **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )

    assert response.status_code == 201
    assert Avatar.objects.get().name == "Chunked"


def test_the_page_upload_is_refused_by_its_length_too(client, user, settings):
    client.force_login(user)
    avatar = AvatarFactory(user=user)

    response = client.generic(
        "POST", f"/avatars/{avatar.public_id}/photos/", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(settings.LIKENESS_MAX_REQUEST_BODY_BYTES + 1), **{"wsgi.input": UnreadableInput()},
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not avatar.photos.exists()


def test_a_full_batch_of_the_largest_photos_fits_under_the_limit(api, user, settings):
    settings.LIKENESS_MAX_UPLOAD_BYTES = 1000
    settings.LIKENESS_MAX_REQUEST_BODY_BYTES = (
        django_settings.DATA_UPLOAD_MAX_NUMBER_FILES * settings.LIKENESS_MAX_UPLOAD_BYTES + 1024 * 1024
    )
    avatar = AvatarFactory(user=user)
    photos = [
        SimpleUploadedFile(f"p{i}.jpg", b"\xff\xd8\xff" + bytes(997), content_type="image/jpeg")
        for i in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FILES)
    ]

    response = api.post(f"/api/v1/avatars/{avatar.public_id}/photos/", {"photos": photos}, format="multipart")

    assert response.status_code == 201, response.content
