"""The admin's deletes go through the customer's own deletion services: nothing a deleted row
pointed to stays in storage, and the person gets the receipt."""

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.urls import reverse

from accounts.models import DeletionReceipt, User
from avatars.models import Avatar, Photo, Portrait
from styles.models import StyleExample, StyleTemplate, TemplateRequest
from tests.factories import (
    AvatarFactory,
    PhotoFactory,
    PortraitFactory,
    StyleTemplateFactory,
    TemplateRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _stored(media_root) -> tuple[set[str], set[str]]:
    """Every file and every folder under the media root, walked on disk."""
    files = {str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()}
    folders = {str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_dir()}
    return files, folders


def _avatar_with_files(user) -> Avatar:
    avatar = AvatarFactory(user=user)
    for _ in range(2):
        PhotoFactory(avatar=avatar).image.save("selfie.jpg", ContentFile(b"selfie"), save=True)
    portrait = PortraitFactory(avatar=avatar)
    portrait.web_image.save("web.png", ContentFile(b"web"), save=True)
    avatar.lora_file.save("avatar.safetensors", ContentFile(b"lora"), save=True)
    return avatar


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_deleting_a_user_in_the_admin_leaves_no_file_and_mails_the_receipt(operator_client, private_media):
    person = UserFactory(email="leaving@example.com")
    _avatar_with_files(person)
    _avatar_with_files(person)
    request = TemplateRequestFactory(author=person)
    request.reference_image.save("look.png", ContentFile(b"me in the look"), save=True)
    assert len(_stored(private_media)[0]) == 2 * (2 + 2 + 1) + 1

    response = operator_client.post(reverse("admin:accounts_user_delete", args=[person.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=person.pk).exists()
    assert _stored(private_media) == (set(), set())
    receipt = DeletionReceipt.objects.get()
    assert (receipt.scope, receipt.removed["avatars"], receipt.removed["reference_images"]) == ("everything", 2, 1)
    assert [message.to for message in mail.outbox] == [["leaving@example.com"]]
    assert receipt.token in mail.outbox[0].body


def test_the_bulk_delete_of_users_goes_through_the_same_deletion(operator_client, private_media):
    people = [UserFactory() for _ in range(2)]
    for person in people:
        _avatar_with_files(person)
    staying = UserFactory()
    kept = _avatar_with_files(staying)

    operator_client.post(reverse("admin:accounts_user_changelist"), {
        "action": "delete_selected", "_selected_action": [person.pk for person in people], "post": "yes",
    })

    assert not User.objects.filter(pk__in=[person.pk for person in people]).exists()
    files, _ = _stored(private_media)
    assert files == {
        *(photo.image.name for photo in kept.photos.all()), kept.lora_file.name,
        *(name for portrait in kept.portraits.all() for name in portrait.stored_file_names),
    }
    assert DeletionReceipt.objects.filter(scope="everything").count() == 2
    assert sorted(message.to[0] for message in mail.outbox) == sorted(person.email for person in people)


def test_deleting_avatars_in_the_admin_deletes_their_files_and_folders(operator_client, private_media):
    person = UserFactory(email="owner@example.com")
    deleted = [_avatar_with_files(person) for _ in range(2)]
    kept = _avatar_with_files(person)

    operator_client.post(reverse("admin:avatars_avatar_changelist"), {
        "action": "delete_selected", "_selected_action": [avatar.pk for avatar in deleted], "post": "yes",
    })

    assert list(Avatar.objects.all()) == [kept]
    files, folders = _stored(private_media)
    assert len(files) == 5
    assert not any(avatar.public_id.hex in name for avatar in deleted for name in files | folders)
    assert DeletionReceipt.objects.filter(scope="avatar").count() == 2
    assert [message.to for message in mail.outbox] == [["owner@example.com"]] * 2
    assert "An avatar of yours" in mail.outbox[0].subject


def test_deleting_a_portrait_or_a_photo_in_the_admin_deletes_its_files(operator_client, private_media):
    avatar = _avatar_with_files(UserFactory())
    portrait = avatar.portraits.get()
    photo = avatar.photos.first()

    operator_client.post(reverse("admin:avatars_portrait_delete", args=[portrait.pk]), {"post": "yes"})
    operator_client.post(reverse("admin:avatars_photo_delete", args=[photo.pk]), {"post": "yes"})

    assert not Portrait.objects.exists()
    assert not Photo.objects.filter(pk=photo.pk).exists()
    files, _ = _stored(private_media)
    assert files == {avatar.lora_file.name, *(p.image.name for p in avatar.photos.all())}
    assert DeletionReceipt.objects.get().scope == "portrait"
    assert [message.to for message in mail.outbox] == [[avatar.user.email]]


def test_deleting_a_style_request_in_the_admin_deletes_its_reference_image(operator_client, private_media):
    request = TemplateRequestFactory()
    request.reference_image.save("look.png", ContentFile(b"a face"), save=True)
    other = TemplateRequestFactory()
    other.reference_image.save("look.png", ContentFile(b"another face"), save=True)

    operator_client.post(reverse("admin:styles_templaterequest_changelist"), {
        "action": "delete_selected", "_selected_action": [request.pk], "post": "yes",
    })

    assert list(TemplateRequest.objects.all()) == [other]
    assert _stored(private_media)[0] == {other.reference_image.name}


def test_deleting_a_style_in_the_admin_deletes_its_pictures(operator_client, private_media):
    template = StyleTemplateFactory()
    template.cover_image.save("cover.png", ContentFile(b"cover"), save=True)
    StyleExample.objects.create(template=template, image=ContentFile(b"example", name="example.png"))

    operator_client.post(reverse("admin:styles_styletemplate_delete", args=[template.pk]), {"post": "yes"})

    assert not StyleTemplate.objects.exists()
    assert _stored(private_media)[0] == set()
