"""A style page's "Use this style" takes the person to choosing that style for their avatar."""

import pytest
from django.utils import timezone

from avatars.models import Avatar
from tests.factories import AvatarFactory, PortraitFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def style():
    return StyleTemplateFactory(slug="film-noir", title="Film noir")


def test_a_trained_avatar_gets_the_style_ticked_among_its_new_styles(client, style):
    user = UserFactory()
    AvatarFactory(user=user, status=Avatar.Status.READY, trained_at=timezone.now() - timezone.timedelta(days=2))
    newest = AvatarFactory(user=user, status=Avatar.Status.READY, trained_at=timezone.now())
    client.force_login(user)

    response = client.get("/avatars/use-style/film-noir/", follow=True)

    [(location, _)] = response.redirect_chain
    assert location == f"/avatars/{newest.public_id}/?style=film-noir#render-more"
    page = response.content.decode()
    assert f'id="style-{style.pk}" name="templates" value="{style.pk}" checked' in page


def test_an_avatar_that_has_the_style_opens_on_its_portraits_of_it(client, style):
    avatar = AvatarFactory(status=Avatar.Status.READY, trained_at=timezone.now())
    PortraitFactory(avatar=avatar, template=style)
    client.force_login(avatar.user)

    response = client.get("/avatars/use-style/film-noir/")

    assert response["Location"] == f"/avatars/{avatar.public_id}/#style-film-noir"


def test_without_a_trained_avatar_the_style_goes_to_the_one_collecting_photos_or_to_my_avatars(client, style):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/avatars/use-style/film-noir/")["Location"] == "/avatars/"

    collecting = AvatarFactory(user=user, status=Avatar.Status.COLLECTING)
    refunded = AvatarFactory(user=user, status=Avatar.Status.READY, refunded_at=timezone.now())

    assert client.get("/avatars/use-style/film-noir/")["Location"] == f"/avatars/{collecting.public_id}/#styles"
    assert refunded.pk != collecting.pk
    assert client.get("/avatars/use-style/unpublished-or-missing/").status_code == 404


def test_a_strangers_request_never_reaches_another_persons_avatar(client, style):
    AvatarFactory(status=Avatar.Status.READY, trained_at=timezone.now())
    client.force_login(UserFactory())

    assert client.get("/avatars/use-style/film-noir/")["Location"] == "/avatars/"
