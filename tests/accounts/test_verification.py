"""A verified email address before paying: the mailed link, its expiry, the resend limit, and the
same rule on the pages and in the API. Uploading and previewing stay open before it."""

import re
import time
from unittest import mock

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.verification import email_verification_token
from orders.models import Order
from tests.factories import PASSWORD, AvatarFactory, PhotoFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def _link_in(message) -> str:
    return re.search(r"https?://\S+/accounts/verify-email/\S+/", message.body).group(0)


def _ready_avatar(user, settings):
    settings.LIKENESS_MIN_PHOTOS = 1
    avatar = AvatarFactory(user=user)
    avatar.templates.set([StyleTemplateFactory()])
    PhotoFactory(avatar=avatar)
    return avatar


def test_sign_up_mails_a_link_that_verifies_the_address_once(client, settings):
    client.post(reverse("accounts:signup"), {
        "email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "accept_terms": "on", "terms_version": settings.LIKENESS_TERMS_VERSION,
    })
    user = User.objects.get(email="new@example.com")
    assert user.email_verified_at is None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    assert f"works for {settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS} hours" in mail.outbox[0].body

    opened = client.get(_link_in(mail.outbox[0]))
    user.refresh_from_db()
    first_time = user.email_verified_at
    client.logout()
    again = client.get(_link_in(mail.outbox[0]))
    user.refresh_from_db()

    assert opened.status_code == 200 and "is confirmed" in opened.content.decode()
    assert opened.context["user"] == user
    assert first_time is not None and again.status_code == 200 and user.email_verified_at == first_time
    # The link signs in once, on the opening that confirms the address; after that it only says so.
    assert not again.context["user"].is_authenticated


def test_sign_up_links_are_built_from_the_site_url_never_the_request_host(client, settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://likeness.example"
    UserFactory(email="taken@example.com")
    form = {"password1": PASSWORD, "password2": PASSWORD, "accept_terms": "on",
            "terms_version": settings.LIKENESS_TERMS_VERSION}

    client.post(reverse("accounts:signup"), {**form, "email": "new@example.com"}, HTTP_HOST="attacker.example")
    client.post(reverse("accounts:signup"), {**form, "email": "taken@example.com"}, HTTP_HOST="attacker.example")
    client.force_login(User.objects.get(email="new@example.com"))
    client.post(reverse("accounts:verify_email_needed"), HTTP_HOST="attacker.example")

    assert len(mail.outbox) == 3  # the confirmation, the note to the owner, the resent confirmation
    for message in mail.outbox:
        assert "attacker.example" not in message.body
        assert "https://likeness.example/accounts/" in message.body


def test_an_old_a_forged_or_a_stale_address_link_does_not_verify(client, settings):
    settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS = 48
    user = UserFactory(email_verified_at=None, email="old@example.com")
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 49 * 3600):
        too_old = email_verification_token(user=user)
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 47 * 3600):
        still_good = email_verification_token(user=user)
    for_old_address = email_verification_token(user=user)
    User.objects.filter(pk=user.pk).update(email="new@example.com")

    expired = client.get(reverse("accounts:verify_email", args=[too_old]))
    forged = client.get(reverse("accounts:verify_email", args=[too_old[:-3] + "abc"]))
    moved = client.get(reverse("accounts:verify_email", args=[for_old_address]))
    user.refresh_from_db()

    assert expired.status_code == 400 and "too old" in expired.content.decode()
    assert forged.status_code == 400 and "not one we sent" in forged.content.decode()
    assert moved.status_code == 400 and user.email_verified_at is None

    User.objects.filter(pk=user.pk).update(email="old@example.com")
    assert client.get(reverse("accounts:verify_email", args=[still_good])).status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_resending_the_link_is_limited_per_hour_on_the_page_and_in_the_api(client, settings):
    settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR = 2
    user = UserFactory(email_verified_at=None)
    client.force_login(user)
    api = APIClient()
    api.force_authenticate(user)

    first = client.post(reverse("accounts:verify_email_needed"), follow=True)
    second = api.post("/api/v1/me/verify-email/")
    third_page = client.post(reverse("accounts:verify_email_needed"), follow=True)
    third_api = api.post("/api/v1/me/verify-email/")

    assert "A new link is on its way" in first.content.decode()
    assert second.status_code == 202
    assert "2 links this hour already" in third_page.content.decode()
    assert third_api.status_code == 429 and third_api.json()["error"]["code"] == "throttled"
    assert len(mail.outbox) == 2
    assert client.get(_link_in(mail.outbox[1])).status_code == 200


def test_until_verified_the_account_uploads_and_previews_but_does_not_pay(client, settings):
    user = UserFactory(email_verified_at=None)
    avatar = _ready_avatar(user, settings)
    client.force_login(user)

    page = client.get(reverse("avatars:detail", args=[avatar.public_id]))
    upload = client.post(reverse("avatars:photo_upload", args=[avatar.public_id]),
                         {"photos": [SimpleUploadedFile("a.jpg", b"not a jpeg")]})
    refused = client.post(reverse("orders:checkout", args=[avatar.public_id]), follow=True)

    assert page.status_code == 200 and "Confirm your email address to be able to pay" in page.content.decode()
    assert upload.status_code == 201
    assert refused.redirect_chain[0][0].startswith(reverse("accounts:verify_email_needed"))
    assert "Confirm your email address before paying" in refused.content.decode()
    assert not Order.objects.exists()

    client.get(reverse("accounts:verify_email", args=[email_verification_token(user=user)]))
    paid = client.post(reverse("orders:checkout", args=[avatar.public_id]))

    assert paid.status_code == 302 and "/local-pay/" in paid.url
    assert Order.objects.get().user == user


def test_the_api_refuses_paying_until_verified_with_its_own_code(settings):
    user = UserFactory(email_verified_at=None)
    avatar = _ready_avatar(user, settings)
    api = APIClient()
    api.force_authenticate(user)

    me = api.get("/api/v1/me/").json()
    refused = api.post(f"/api/v1/avatars/{avatar.public_id}/checkout/")
    user.email_verified_at = user.date_joined
    user.save()
    allowed = api.post(f"/api/v1/avatars/{avatar.public_id}/checkout/")

    assert me["email_verified_at"] is None
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "email_not_verified"
    assert user.email in refused.json()["error"]["message"]
    assert allowed.status_code == 201
