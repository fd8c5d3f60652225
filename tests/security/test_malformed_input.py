"""Junk in every form and JSON body: a clear 4xx, never a 5xx.

Walks the URL resolver (the same walk as test_access_walk, so a new URL is covered without
being listed) and posts, as the owner of every object, bodies no page or client would send:
each field the site knows (the pages' inputs, the API schema's properties) set to values of the
wrong kind, and JSON bodies of the wrong shape. Each URL's posts run in a transaction rolled
back after it, so one URL's junk (a delete that went through) leaves the next one's objects.
"""

import json
import re

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories import StyleTemplateFactory
from tests.security.test_access_walk import OBJECT_URLS, STAFF_NAMESPACES, owned, walk  # noqa: F401

pytestmark = pytest.mark.django_db

# The public URLs that take an id, built for an object that exists (or a token that doesn't).
PUBLIC_KWARGS = {
    "styles:detail": lambda o: {"slug": o["template"].slug},
    "styles:cover": lambda o: {"slug": o["template"].slug},
    "avatars:use_style": lambda o: {"slug": o["template"].slug},
    "styles:example": lambda o: {"slug": o["template"].slug, "example_id": 1},
    "styles:request_vote": lambda o: {"request_id": o["request"].pk},
    "api:template-detail": lambda o: {"slug": o["template"].slug},
    "api:template-request-detail": lambda o: {"request_id": o["request"].pk},
    "api:template-request-vote": lambda o: {"request_id": o["request"].pk},
    "accounts:receipt": lambda o: {"token": "abc"},
    "accounts:receipt_download": lambda o: {"token": "abc"},
    "accounts:password_reset_confirm": lambda o: {"uidb64": "abc", "token": "set-password"},
    "accounts:verify_email": lambda o: {"token": "abc"},
}
# Not forms: the Stripe webhook has its own storm test (tests/security/test_webhook_storm.py).
SKIPPED = {"orders:stripe_webhook", "api-docs", "api-schema", "javascript-catalog"}
WRONG_VALUES = ["abc", "9" * 30, ""]
WRONG_JSON_VALUES = [[1, 2], "abc", None]
WRONG_JSON_BODIES = ["[1,2]", "{"]


def _field_names_in_schema() -> set[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        name
        for component in schema["components"]["schemas"].values()
        for name in component.get("properties", {})
    }


def _field_names_on(client, url: str) -> set[str]:
    page = client.get(url)
    if page.status_code != 200 or "html" not in page.get("Content-Type", ""):
        return set()
    return set(re.findall(r'name="([\w-]+)"', page.content.decode(errors="replace")))


def _kwargs_for(name, argument_names, objects):
    if name in OBJECT_URLS:
        return OBJECT_URLS[name](objects)
    if name in PUBLIC_KWARGS:
        return PUBLIC_KWARGS[name](objects)
    return None if argument_names else {}


def test_no_form_or_json_body_gets_a_5xx(owned, settings):  # noqa: F811
    settings.LIKENESS_LOCAL_PAYMENTS = True
    objects = {**owned, "template": StyleTemplateFactory()}
    known_fields = _field_names_in_schema() | {"templates", "photos", "consent", "confirm", "next", "language"}
    server_errors = []
    tried = 0
    for name, _route, argument_names in walk():
        if name in SKIPPED or name.startswith(STAFF_NAMESPACES) or not name:
            continue
        kwargs = _kwargs_for(name, argument_names, objects)
        assert kwargs is not None, f"{name} takes {argument_names}: add it to PUBLIC_KWARGS"
        url = reverse(name, kwargs=kwargs)
        is_api = name.startswith("api:")
        with transaction.atomic():
            client = (APIClient if is_api else Client)(raise_request_exception=False)
            client.force_login(objects["owner"])
            fields = known_fields | _field_names_on(client, url)
            methods = ("post", "patch") if is_api else ("post",)
            for method in methods:
                send = getattr(client, method)
                requests = [("form", {field: [value, value] for field in fields}) for value in WRONG_VALUES]
                requests += [("json", json.dumps(dict.fromkeys(fields, value))) for value in WRONG_JSON_VALUES]
                requests += [("json", body) for body in WRONG_JSON_BODIES]
                for kind, body in requests:
                    cache.clear()  # rate limits would answer 429 before the view reads the junk
                    if kind == "form":
                        response = send(url, body) if method == "post" else send(url, body, format="multipart")
                    else:
                        response = send(url, body, content_type="application/json")
                    tried += 1
                    if response.status_code >= 500:
                        error = getattr(response, "exc_info", None)
                        server_errors.append(
                            f"{method.upper()} {name} {kind} {str(body)[:60]!r}: {response.status_code} "
                            f"{error[1]!r}" if error else ""
                        )
            transaction.set_rollback(True)
    assert tried > 300
    assert server_errors == [], "\n".join(server_errors[:40])


def test_the_two_bodies_that_answered_500_get_a_400_that_says_why(owned):  # noqa: F811
    token = APIClient().post("/api/v1/auth/token/", "[1,2]", content_type="application/json")
    client = Client()
    client.force_login(owned["owner"])
    url = reverse("avatars:templates_choose", kwargs={"public_id": owned["avatar"].public_id})
    page = client.post(url, {"templates": "abc"})
    script = client.post(url, {"templates": "abc"}, HTTP_ACCEPT="application/json")

    assert token.status_code == 400 and token.json()["error"]["code"] == "invalid"
    assert "dictionary" in token.json()["error"]["message"]
    assert page.status_code == 400 and "something other than a style" in page.content.decode()
    assert script.status_code == 400 and "style's number" in script.json()["error"]["message"]
