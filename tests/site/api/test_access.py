"""Every API object is its owner's alone: anonymous calls are refused, other users get 404."""

import pytest

from tests.api_clients import error_of, token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# (method, path template): every endpoint that needs a signed-in user.
PRIVATE_URLS = [
    ("get", "/api/v1/me/"),
    ("delete", "/api/v1/me/"),
    ("delete", "/api/v1/auth/token/revoke/"),
    ("get", "/api/v1/avatars/"),
    ("post", "/api/v1/avatars/"),
    ("get", "/api/v1/avatars/{avatar}/"),
    ("delete", "/api/v1/avatars/{avatar}/"),
    ("get", "/api/v1/avatars/{avatar}/photos/"),
    ("post", "/api/v1/avatars/{avatar}/photos/"),
    ("delete", "/api/v1/avatars/{avatar}/photos/{photo}/"),
    ("get", "/api/v1/avatars/{avatar}/photos/{photo}/image/"),
    ("put", "/api/v1/avatars/{avatar}/templates/"),
    ("get", "/api/v1/avatars/{avatar}/progress/"),
    ("post", "/api/v1/avatars/{ready}/render-more/"),
    ("post", "/api/v1/avatars/{avatar}/reopen/"),
    ("post", "/api/v1/avatars/{avatar}/checkout/"),
    ("get", "/api/v1/orders/"),
    ("get", "/api/v1/orders/{order}/"),
    ("get", "/api/v1/portraits/"),
    ("get", "/api/v1/portraits/{portrait}/"),
    ("delete", "/api/v1/portraits/{portrait}/"),
    ("get", "/api/v1/portraits/{portrait}/download/"),
    ("post", "/api/v1/portraits/{portrait}/more-like-me/"),
    ("post", "/api/v1/portraits/{portrait}/reroll/"),
    ("post", "/api/v1/template-requests/"),
    ("post", "/api/v1/template-requests/{request}/vote/"),
    ("put", "/api/v1/template-requests/{request}/vote/"),
    ("delete", "/api/v1/template-requests/{request}/vote/"),
]
OBJECT_URLS = [(method, path) for method, path in PRIVATE_URLS if "{" in path and "{request}" not in path]


def fill(path: str, owned: dict) -> str:
    return path.format(
        avatar=owned["avatar"].public_id,
        ready=owned["ready"].public_id,
        photo=owned["photo"].pk,
        order=owned["order"].public_id,
        portrait=owned["portrait"].public_id,
        request=owned["request"].pk,
    )


@pytest.mark.parametrize(("method", "path"), PRIVATE_URLS)
def test_anonymous_calls_are_refused_with_401(anonymous, owned, method, path):
    response = getattr(anonymous, method)(fill(path, owned))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), PRIVATE_URLS)
def test_a_bad_token_is_refused_with_401(owned, method, path):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = getattr(client, method)(fill(path, owned))

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), OBJECT_URLS)
def test_another_users_objects_are_404_and_untouched(owned, method, path):
    stranger = token_client(UserFactory())

    response = getattr(stranger, method)(fill(path, owned), format="json")

    assert response.status_code == 404, response.content
    assert error_of(response)["code"] == "not_found"
    owned["portrait"].refresh_from_db()
    owned["photo"].refresh_from_db()
    owned["avatar"].refresh_from_db()
    assert owned["portrait"].download_count == 0
    assert owned["photo"].status == "accepted"


def test_the_object_permission_is_a_second_lock(rf, owned):
    """Even an object fetched past the querysets is refused for a user who does not own it."""
    from rest_framework.exceptions import NotFound

    from portrait_site.core.api import IsOwner

    request = rf.get("/")
    request.user = UserFactory()
    with pytest.raises(NotFound):
        IsOwner().has_object_permission(request, None, owned["avatar"])
    with pytest.raises(NotFound):
        IsOwner().has_object_permission(request, None, owned["portrait"])
    request.user = owned["avatar"].user
    assert IsOwner().has_object_permission(request, None, owned["portrait"])


def test_session_authentication_works_too(client, user, owned):
    client.force_login(user)

    response = client.get("/api/v1/avatars/")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_session_writes_need_the_csrf_token(user, owned):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/api/v1/avatars/", {"name": "Me"}, format="json")

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


def test_an_unknown_api_object_is_a_json_404(api):
    response = api.get("/api/v1/avatars/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404
    assert error_of(response)["message"].startswith("Not found")


def test_every_application_error_answers_with_its_own_code_and_status_without_registration():
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from styles.services import CurationRefused

    class Refusing(APIView):
        permission_classes = []

        def get(self, request):
            raise CurationRefused("“Qipao” is shipped: reopen it first.")

    response = Refusing.as_view()(APIRequestFactory().get("/"))

    assert response.status_code == 409
    assert response.data == {"error": {"code": "curation_refused", "message": "“Qipao” is shipped: reopen it first."}}
