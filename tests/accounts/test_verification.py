"""A verified email address before paying: the mailed link, its expiry, the resend limit, and the
same rule on the pages and in the API. Uploading and previewing stay open before it."""

import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail, signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import EmailConfirmation, User
from accounts.verification import email_verification_send
from orders.models import Order
from tests.factories import PASSWORD, AvatarFactory, PhotoFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def _link_in(message) -> str:
    return re.search(r"https?://\S+/accounts/verify-email/\S+/", message.body).group(0)


def _mailed_link(user) -> str:
    """The path of a fresh confirmation link mailed to `user`."""
    email_verification_send(user=user)
    return urlsplit(_link_in(mail.outbox[-1])).path


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


def test_an_old_a_cut_or_a_stale_address_link_does_not_verify(client, settings):
    settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS = 48
    user = UserFactory(email_verified_at=None, email="old@example.com")
    too_old, still_good, for_old_address = _mailed_link(user), _mailed_link(user), _mailed_link(user)
    for path, age in ((too_old, 49), (still_good, 47)):
        token_hash = EmailConfirmation.objects.order_by("pk")[[too_old, still_good].index(path)].token_hash
        EmailConfirmation.objects.filter(token_hash=token_hash).update(created_at=user.date_joined - timedelta(hours=age))
    User.objects.filter(pk=user.pk).update(email="new@example.com")

    expired = client.get(too_old)
    cut = client.get(too_old[:-4] + "abc/")
    moved = client.get(for_old_address)
    user.refresh_from_db()

    assert expired.status_code == 400 and "too old" in expired.content.decode()
    assert cut.status_code == 400 and "not one we sent" in cut.content.decode()
    assert moved.status_code == 400 and user.email_verified_at is None

    User.objects.filter(pk=user.pk).update(email="old@example.com")
    assert client.get(still_good).status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_the_server_keeps_only_the_hash_of_a_links_token():
    user = UserFactory(email_verified_at=None)
    token = _mailed_link(user).rstrip("/").rsplit("/", 1)[-1]

    stored = EmailConfirmation.objects.get(user=user)
    assert len(token) >= 40 and token not in stored.token_hash and stored.email == user.email


def test_a_link_forged_with_the_built_in_key_is_refused(client):
    # What the old signed links were: anyone holding the public key could make one for any account.
    victim = UserFactory(email="b@example.com", email_verified_at=None, last_login=None)
    forged = signing.dumps(
        {"user": victim.pk, "email": victim.email},
        key="django-insecure-likeness-embedded-default-key", salt="accounts.email-verification",
    )

    response = client.get(reverse("accounts:verify_email", args=[forged]))
    victim.refresh_from_db()

    assert response.status_code == 400 and "not one we sent" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert victim.email_verified_at is None


def test_the_seeded_staff_cannot_be_entered_through_a_confirmation_link(client):
    call_command("seed_likeness", stdout=io.StringIO())
    staff = User.objects.get(email="admin@likeness.local")
    # An install seeded before staff were created verified, whose staff never signed in.
    User.objects.filter(pk=staff.pk).update(email_verified_at=None, last_login=None)
    forged = signing.dumps({"user": staff.pk, "email": staff.email}, key="django-insecure-likeness-embedded-default-key",
                           salt="accounts.email-verification")

    refused = client.get(reverse("accounts:verify_email", args=[forged]))
    own_link = client.get(_mailed_link(staff))
    staff.refresh_from_db()

    assert refused.status_code == 400
    # The staff's own link confirms the address, and still opens no session: staff sign in with their password.
    assert own_link.status_code == 200 and staff.email_verified_at is not None
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_opening_anothers_link_keeps_ones_own_session(client):
    victim = UserFactory(email="victim@example.com")
    attacker = UserFactory(email="attacker@example.com", email_verified_at=None, last_login=None)
    attackers_link = _mailed_link(attacker)
    client.force_login(victim)

    response = client.get(attackers_link)
    attacker.refresh_from_db()

    assert response.status_code == 403
    assert "another account" in response.content.decode() and "victim@example.com" in response.content.decode()
    assert client.session["_auth_user_id"] == str(victim.pk)
    assert response.context["user"] == victim
    # Refused, so unspent: it changed nothing on the attacker's account either.
    assert attacker.email_verified_at is None
    assert EmailConfirmation.objects.get(user=attacker).opened_at is None


def test_the_link_signs_in_only_a_fresh_account_on_its_first_opening(client):
    fresh = UserFactory(email_verified_at=None, last_login=None)
    used_before = UserFactory(email_verified_at=None, last_login=fresh.date_joined)
    fresh_link, used_before_link = _mailed_link(fresh), _mailed_link(used_before)

    first = client.get(fresh_link)
    signed_in_as = client.session.get("_auth_user_id")
    client.logout()
    second = client.get(fresh_link)
    client.logout()
    other = client.get(used_before_link)
    used_before.refresh_from_db()

    assert first.status_code == 200 and signed_in_as == str(fresh.pk)
    assert second.status_code == 200 and not second.context["user"].is_authenticated
    # An account that has signed in before has a password its owner uses: the link only confirms.
    assert other.status_code == 200 and not other.context["user"].is_authenticated
    assert used_before.email_verified_at is not None
    assert "Sign in" in other.content.decode()


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

    client.get(_mailed_link(user))
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
