"""The OpenAPI schema: generated without warnings, and the live API keeps to it under generated input."""

import time

import pytest
from django.core.management import call_command

from accounts.tokens import api_token_create
from avatars.models import Avatar
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PhotoFactory,
    PortraitFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    UserFactory,
)

# Operations left out of the generated run, with why.
NOT_GENERATED = {
    # It would sign the run's own token out half-way; test_me.py covers it.
    ("DELETE", "/api/v1/auth/token/revoke/"),
}
EXAMPLES_PER_OPERATION = 25


@pytest.mark.django_db
def test_the_schema_generates_and_validates_without_warnings(tmp_path, capsys):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    captured = capsys.readouterr()
    assert "Warning" not in captured.err + captured.out
    assert "/api/v1/avatars/{public_id}/photos/" in out.read_text()


def test_the_schema_and_docs_are_served(client, db):
    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")

    assert schema.status_code == 200 and b"openapi: 3.0.3" in schema.content
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def _owned_objects(user) -> dict[str, list[str]]:
    collecting = AvatarFactory(user=user)
    PhotoFactory.create_batch(3, avatar=collecting)
    ready = AvatarFactory(user=user, status=Avatar.Status.READY)
    templates = StyleTemplateFactory.create_batch(2)
    portrait = PortraitFactory(avatar=ready, template=templates[0])
    order = OrderFactory(user=user, avatar=collecting)
    return {
        "avatars": [str(collecting.public_id), str(ready.public_id)],
        "portraits": [str(portrait.public_id)],
        "orders": [str(order.public_id)],
        "photo_id": list(collecting.photos.values_list("pk", flat=True)),
        "request_id": [TemplateRequestFactory(author=user).pk],
        "slug": [t.slug for t in templates],
    }


def _real_path_parameters(path: str, owned: dict):
    """Swaps generated ids for the user's real ones half the time, so both the 404 and the found paths run."""
    from hypothesis import strategies as st

    choices = {}
    if "{public_id}" in path:
        collection = path.split("/")[3]
        choices["public_id"] = owned[collection]
    for name in ("photo_id", "request_id", "slug"):
        if "{" + name + "}" in path:
            choices[name] = owned[name]
    return st.fixed_dictionaries(
        {name: st.one_of(st.none(), st.sampled_from(values)) for name, values in choices.items()}
    )


@pytest.mark.slow
def test_generated_calls_get_no_server_error_and_match_the_schema(live_server, settings):
    import schemathesis
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis.checks import not_a_server_error

    settings.LIKENESS_MIN_PHOTOS = 3
    user = UserFactory()
    owned = _owned_objects(user)
    headers = {"Authorization": f"Token {api_token_create(user=user, name='schemathesis')[1]}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    checks = [
        not_a_server_error,
        schemathesis.checks.response_schema_conformance,
        schemathesis.checks.status_code_conformance,
    ]
    started, calls = time.monotonic(), 0

    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_GENERATED:
            continue

        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), real=_real_path_parameters(operation.path, owned))
        def call(case, real):
            nonlocal calls
            for name, value in real.items():
                if value is not None:
                    case.path_parameters[name] = value
            response = case.call(base_url=live_server.url, headers=headers)
            calls += 1
            case.validate_response(response, checks=checks)

        call()

    assert calls > 200, "the run must have exercised the API"
    assert time.monotonic() - started < 240
