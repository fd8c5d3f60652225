"""The accounts services: deleting everything and its receipts, and rate limits per client address (proxies included)."""

import hashlib

import pytest
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.test import RequestFactory

from accounts.models import DeletionReceipt, Notice, User
from accounts.receipts import deletion_receipt_create, email_hash
from accounts.services import auth_rate_limit_hit, client_ip
from accounts.tokens import api_token_create
from avatars.models import Avatar, Photo, Portrait
from avatars.services import avatar_delete_with_receipt, portrait_delete_with_receipt
from orders.models import Order
from portrait_site.privacy.deletion import user_delete_everything
from styles.models import TemplateVote
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PhotoFactory,
    PortraitFactory,
    TemplateRequestFactory,
    TemplateVoteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _avatar_with_files(user, *, photos: int, portraits: int, lora: bool) -> Avatar:
    avatar = AvatarFactory(user=user)
    for _ in range(photos):
        photo = PhotoFactory(avatar=avatar)
        photo.image.save("selfie.png", ContentFile(b"photo"), save=True)
    for _ in range(portraits):
        PortraitFactory(avatar=avatar)
    if lora:
        avatar.lora_file.save("avatar.safetensors", ContentFile(b"x" * 2048), save=True)
    return avatar


def _stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()]


def test_delete_everything_removes_the_person_and_keeps_anonymous_order_records(client, private_media):
    user = UserFactory(email="Gone@Example.com".lower())
    trained = _avatar_with_files(user, photos=0, portraits=3, lora=True)
    collecting = _avatar_with_files(user, photos=4, portraits=0, lora=False)
    PhotoFactory(avatar=collecting, status=Photo.Status.REJECTED)  # a verdict row without a file
    order = OrderFactory(
        user=user, avatar=trained, status=Order.Status.PAID,
        stripe_checkout_session_id="cs_test_123", stripe_payment_intent_id="pi_test_456",
    )
    paid_at_before = order.created_at
    own_request = TemplateRequestFactory(author=user)
    own_request.reference_image.save("look.png", ContentFile(b"reference"), save=True)
    TemplateVoteFactory(user=user, request=own_request)
    others_request = TemplateRequestFactory()
    TemplateVoteFactory(user=user, request=others_request)
    someone_else_vote = TemplateVoteFactory(request=others_request)
    Notice.objects.create(user=user, message="Your style shipped")
    api_token_create(user=user, name="a script")
    client.force_login(user)
    other_person = UserFactory()
    other_avatar = _avatar_with_files(other_person, photos=1, portraits=1, lora=False)
    assert len(_stored_files(private_media)) == 4 + 3 + 1 + 1 + 1 + 1

    receipt = user_delete_everything(user=user)

    assert receipt.scope == "everything"
    assert receipt.user_email_hash == email_hash("gone@example.com")
    assert len(receipt.token) >= 40
    assert receipt.removed == {
        "avatars": 2, "photos": 5, "portraits": 3, "lora_files": 1, "files": 8,
        "avatar_names": [trained.name, collecting.name], "reference_images": 1,
        "template_requests_detached": 1, "votes": 2, "notices": 1, "api_tokens": 1, "sessions": 1,
        "orders_kept_without_link": 1, "account": 1,
        # Both avatars' photo consents and the terms acceptance.
        "consent_records": 3,
    }
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Avatar.objects.filter(pk__in=[trained.pk, collecting.pk]).exists()
    assert not Portrait.objects.filter(avatar__in=[trained.pk, collecting.pk]).exists()
    order.refresh_from_db()
    assert (order.user_id, order.avatar_id) == (None, None)
    assert (order.amount, order.currency, order.status) == (990, "cny", Order.Status.PAID)
    assert (order.stripe_checkout_session_id, order.stripe_payment_intent_id) == ("cs_test_123", "pi_test_456")
    assert order.created_at == paid_at_before
    own_request.refresh_from_db()
    assert (own_request.author_id, own_request.reference_image.name) == (None, "")
    assert list(TemplateVote.objects.all()) == [someone_else_vote]
    assert not Session.objects.exists()
    # Only the other person's files are left in storage.
    remaining = {str(path.relative_to(private_media)) for path in _stored_files(private_media)}
    assert remaining == {p.image.name for p in other_avatar.photos.all()} | {
        name for p in other_avatar.portraits.all() for name in p.stored_file_names
    }
    assert DeletionReceipt.objects.get(token=receipt.token) == receipt


def test_avatar_delete_with_receipt_counts_what_went(private_media):
    user = UserFactory()
    avatar = _avatar_with_files(user, photos=2, portraits=1, lora=True)
    kept = _avatar_with_files(user, photos=1, portraits=0, lora=False)

    receipt = avatar_delete_with_receipt(user=user, avatar=avatar)

    assert receipt.scope == "avatar"
    assert receipt.removed == {
        "avatars": 1, "photos": 2, "portraits": 1, "lora_files": 1, "files": 4, "avatar_names": [avatar.name],
    }
    assert list(Avatar.objects.filter(user=user)) == [kept]
    assert len(_stored_files(private_media)) == 1
    # The deleted avatar's own folders went with their files; the kept one's stays.
    folders = {str(path.relative_to(private_media)) for path in private_media.rglob("*") if path.is_dir()}
    assert folders == {"uploads", f"uploads/{kept.public_id.hex}"}


def test_receipts_key_the_email_hash_with_the_secret_key(settings):
    receipt = deletion_receipt_create(email="Gone@Example.com ", scope="portrait", removed={})
    # A plain hash of an address anyone can guess would name the person; keyed, it needs the secret.
    assert receipt.user_email_hash != hashlib.sha256(b"gone@example.com").hexdigest()
    assert receipt.user_email_hash == email_hash("gone@example.com")
    settings.SECRET_KEY = "another-secret-key-for-another-site"
    assert email_hash("gone@example.com") != receipt.user_email_hash


def test_portrait_delete_with_receipt(private_media):
    portrait = PortraitFactory()
    user = portrait.avatar.user

    receipt = portrait_delete_with_receipt(user=user, portrait=portrait)

    assert (receipt.scope, receipt.removed["portraits"], receipt.removed["files"]) == ("portrait", 1, 1)
    assert not Portrait.objects.exists()
    assert _stored_files(private_media) == []


def test_rate_limit_counts_attempts_per_client_and_scope(settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 3
    factory = RequestFactory()
    here = factory.post("/accounts/login/", REMOTE_ADDR="203.0.113.5")
    elsewhere = factory.post("/accounts/login/", REMOTE_ADDR="203.0.113.6")

    assert [auth_rate_limit_hit(request=here, scope="login") for _ in range(4)] == [False, False, False, True]
    assert auth_rate_limit_hit(request=elsewhere, scope="login") is False
    assert auth_rate_limit_hit(request=here, scope="signup") is False


@pytest.mark.parametrize("proxies, client", [(1, "198.51.100.7"), (2, "192.0.2.1")])
def test_behind_trusted_proxies_the_limit_counts_the_address_they_saw(settings, proxies, client):
    """The client wrote a fresh fake address each time; the proxies appended what they saw."""
    settings.LIKENESS_AUTH_RATE_LIMIT = 1
    settings.LIKENESS_TRUSTED_PROXIES = proxies
    factory = RequestFactory()
    attempts = [
        factory.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 192.0.2.1, 198.51.100.7")
        for n in range(2)
    ]

    assert {client_ip(r) for r in attempts} == {client}
    assert [auth_rate_limit_hit(request=r, scope="login") for r in attempts] == [False, True]


def test_with_no_trusted_proxy_the_forwarded_for_header_is_not_read(settings):
    settings.LIKENESS_AUTH_RATE_LIMIT = 1
    factory = RequestFactory()
    attempts = [
        factory.post("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(2)
    ]

    assert [auth_rate_limit_hit(request=r, scope="login") for r in attempts] == [False, True]
