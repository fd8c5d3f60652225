"""Terms and privacy: their figures come from the settings, sign-up records the version, a new
version is asked for again; and the separate consent before an avatar's first photo."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import PhotoConsent, TermsAcceptance, User
from avatars.models import Avatar
from tests.factories import PASSWORD, AvatarFactory, PhotoFactory, StyleTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def _page_text(response) -> str:
    return " ".join(response.content.decode().split())


def test_the_terms_and_privacy_pages_quote_the_figures_the_settings_hold(client, settings):
    settings.LIKENESS_OPERATOR_NAME = "Portrait Studio Ltd"
    settings.LIKENESS_OPERATOR_CONTACT = "help@studio.example"
    settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS = 7
    settings.LIKENESS_PRICE_MINOR = 990
    settings.LIKENESS_JOB_MAX_ATTEMPTS = 3
    before_terms = _page_text(client.get(reverse("terms")))
    before_privacy = _page_text(client.get(reverse("privacy")))

    settings.LIKENESS_OPERATOR_NAME = "Another Operator GmbH"
    settings.LIKENESS_OPERATOR_CONTACT = "datenschutz@other.example"
    settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS = 12
    settings.LIKENESS_PRICE_MINOR = 1990
    settings.LIKENESS_JOB_MAX_ATTEMPTS = 5
    settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS = 24
    settings.LIKENESS_TERMS_VERSION = "2031-02-03"
    after_terms = _page_text(client.get(reverse("terms")))
    after_privacy = _page_text(client.get(reverse("privacy")))

    assert "Portrait Studio Ltd" in before_terms and "help@studio.example" in before_privacy
    assert "kept 7 days" in before_terms and "¥9.90" in before_terms and "all 3 attempts" in before_terms
    assert "Another Operator GmbH" in after_terms and "datenschutz@other.example" in after_privacy
    assert "kept 12 days" in after_terms and "¥19.90" in after_terms and "all 5 attempts" in after_terms
    assert "After a failed training: 12 days" in after_privacy and "work 24 hours (address)" in after_privacy
    assert "Version 2031-02-03" in after_terms and "Version 2031-02-03" in after_privacy
    assert "kept 7 days" not in after_terms and "Portrait Studio Ltd" not in after_privacy


def test_unpaid_photos_are_quoted_with_their_days_only_where_the_setting_exists(client, settings):
    if hasattr(settings, "LIKENESS_UNPAID_PHOTOS_KEEP_DAYS"):
        del settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS
    without = _page_text(client.get(reverse("privacy")))
    settings.LIKENESS_UNPAID_PHOTOS_KEEP_DAYS = 30
    with_days = _page_text(client.get(reverse("privacy")))

    assert "Before you pay: until you remove them or delete the avatar." in without
    assert "Unpaid: 30 days after upload." in with_days


def test_an_operator_replaces_the_text_and_keeps_the_figures(client, settings, tmp_path):
    (tmp_path / "operator").mkdir()
    (tmp_path / "operator" / "terms.html").write_text(
        "Our own words. Photos of failed builds: {{ failed_photos_keep_days }} days. Version {{ version }}."
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    settings.LIKENESS_TERMS_TEMPLATE = "operator/terms.html"
    settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS = 9

    text = _page_text(client.get(reverse("terms")))

    assert text == f"Our own words. Photos of failed builds: 9 days. Version {settings.LIKENESS_TERMS_VERSION}."


def _signup(client, **extra):
    return client.post(reverse("accounts:signup"), {
        "email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD, **extra,
    })


def test_sign_up_needs_the_terms_ticked_and_records_the_version_and_time(client, settings):
    settings.LIKENESS_TERMS_VERSION = "v7"

    unticked = _signup(client, terms_version="v7")
    stale = _signup(client, terms_version="v6", accept_terms="on")
    accepted = _signup(client, terms_version="v7", accept_terms="on")

    assert unticked.status_code == 200 and "accept_terms" in unticked.context["form"].errors
    assert stale.status_code == 200 and "terms_version" in stale.context["form"].errors
    assert accepted.status_code == 302 and accepted.url == reverse("accounts:signup_sent")
    acceptance = TermsAcceptance.objects.get(user__email="new@example.com")
    assert acceptance.version == "v7" and acceptance.accepted_at is not None
    assert User.objects.count() == 1


def _collecting_avatar(user, **kwargs):
    template = StyleTemplateFactory()
    avatar = AvatarFactory(user=user, **kwargs)
    avatar.templates.set([template])
    return avatar


def test_a_new_terms_version_is_asked_for_again_before_uploading_or_paying(client, settings):
    settings.LIKENESS_MIN_PHOTOS = 1
    user = UserFactory()
    avatar = _collecting_avatar(user)
    PhotoFactory(avatar=avatar)
    client.force_login(user)
    assert client.get(reverse("avatars:detail", args=[avatar.public_id])).status_code == 200

    settings.LIKENESS_TERMS_VERSION = "next-version"
    page = client.get(reverse("avatars:detail", args=[avatar.public_id]))
    upload = client.post(reverse("avatars:photo_upload", args=[avatar.public_id]),
                         {"photos": [SimpleUploadedFile("a.jpg", b"not a jpeg")]})
    checkout = client.post(reverse("orders:checkout", args=[avatar.public_id]))

    accept_url = reverse("accounts:terms_accept")
    assert page.status_code == 302 and page.url.startswith(accept_url)
    assert upload.status_code == 403 and upload.json()["error"]["code"] == "terms_not_accepted"
    assert checkout.status_code == 302 and checkout.url.startswith(accept_url)
    assert not avatar.orders.exists() and avatar.photos.count() == 1

    shown = client.get(page.url)
    assert "next-version" in shown.content.decode()
    done = client.post(accept_url, {"terms_version": "next-version", "accept_terms": "on", "next": shown.context["next"]})

    assert done.status_code == 302 and done.url == reverse("avatars:detail", args=[avatar.public_id])
    assert TermsAcceptance.objects.filter(user=user, version="next-version").exists()
    assert client.get(done.url).status_code == 200
    paid = client.post(reverse("orders:checkout", args=[avatar.public_id]))
    assert paid.status_code == 302 and "/local-pay/" in paid.url


def test_the_api_asks_for_the_new_terms_too(settings):
    settings.LIKENESS_MIN_PHOTOS = 1
    user = UserFactory()
    avatar = _collecting_avatar(user)
    PhotoFactory(avatar=avatar)
    api = APIClient()
    api.force_authenticate(user)
    settings.LIKENESS_TERMS_VERSION = "api-version"

    terms = api.get("/api/v1/terms/").json()
    upload = api.post(f"/api/v1/avatars/{avatar.public_id}/photos/",
                      {"photos": [SimpleUploadedFile("a.jpg", b"x")]}, format="multipart")
    checkout = api.post(f"/api/v1/avatars/{avatar.public_id}/checkout/")
    wrong_version = api.put("/api/v1/me/terms/", {"version": "old"}, format="json")
    accepted = api.put("/api/v1/me/terms/", {"version": "api-version"}, format="json")
    checkout_after = api.post(f"/api/v1/avatars/{avatar.public_id}/checkout/")

    assert terms["version"] == "api-version" and terms["accepted"] is False
    assert terms["terms_url"].endswith("/terms/") and terms["privacy_url"].endswith("/privacy/")
    assert upload.status_code == 403 and upload.json()["error"]["code"] == "terms_not_accepted"
    assert checkout.status_code == 403 and checkout.json()["error"]["code"] == "terms_not_accepted"
    assert wrong_version.status_code == 403
    assert accepted.status_code == 200 and accepted.json()["accepted"] is True
    assert checkout_after.status_code == 201


# --- Consent for face photos ------------------------------------------------------------


def test_the_first_upload_of_each_avatar_waits_for_its_consent_screen(client, settings):
    settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS = 11
    user = UserFactory()
    client.force_login(user)
    created = client.post(reverse("avatars:create"), {"name": "Holiday me", "subject_class": "woman"})
    avatar = Avatar.objects.get(user=user)
    page = client.get(created.url)
    upload = client.post(reverse("avatars:photo_upload", args=[avatar.public_id]),
                         {"photos": [SimpleUploadedFile("a.jpg", b"not a jpeg")]})

    consent_url = reverse("accounts:photo_consent", args=[avatar.public_id])
    assert page.status_code == 302 and page.url == consent_url
    assert upload.status_code == 403 and upload.json()["error"]["code"] == "photo_consent_required"
    assert not avatar.photos.exists()

    screen = client.get(consent_url)
    text = _page_text(screen)
    assert "Holiday me" in text and "11 more days" in text and "Delete the avatar at any time" in text
    refused = client.post(consent_url, {})
    assert refused.status_code == 200 and "consent" in refused.context["form"].errors
    agreed = client.post(consent_url, {"consent": "on"})

    assert agreed.status_code == 302 and agreed.url == reverse("avatars:detail", args=[avatar.public_id])
    consent = PhotoConsent.objects.get(avatar=avatar)
    assert consent.user == user and consent.terms_version == settings.LIKENESS_TERMS_VERSION
    assert "Holiday me" in consent.statement and "kept 11 days" in consent.statement
    assert client.get(agreed.url).status_code == 200
    uploaded = client.post(reverse("avatars:photo_upload", args=[avatar.public_id]),
                           {"photos": [SimpleUploadedFile("a.jpg", b"not a jpeg")]})
    assert uploaded.status_code == 201 and avatar.photos.count() == 1

    # A second avatar asks again: consent is per avatar.
    client.post(reverse("avatars:create"), {"name": "Work me"})
    second = Avatar.objects.get(user=user, name="Work me")
    assert client.get(reverse("avatars:detail", args=[second.public_id])).url.endswith(
        reverse("accounts:photo_consent", args=[second.public_id]))


def test_the_api_takes_consent_per_avatar_before_the_first_photo():
    user = UserFactory()
    avatar = AvatarFactory(user=user, photo_consent=False)
    stranger = AvatarFactory()
    api = APIClient()
    api.force_authenticate(user)
    url = f"/api/v1/avatars/{avatar.public_id}/photo-consent/"

    before = api.get(url).json()
    upload = api.post(f"/api/v1/avatars/{avatar.public_id}/photos/",
                      {"photos": [SimpleUploadedFile("a.jpg", b"x")]}, format="multipart")
    declined = api.post(url, {"agree": False}, format="json")
    agreed = api.post(url, {"agree": True}, format="json")
    upload_after = api.post(f"/api/v1/avatars/{avatar.public_id}/photos/",
                            {"photos": [SimpleUploadedFile("a.jpg", b"x")]}, format="multipart")
    someone_elses = api.post(f"/api/v1/avatars/{stranger.public_id}/photo-consent/", {"agree": True}, format="json")

    assert before["given"] is False and any("deleted as soon as the avatar is trained" in s for s in before["statement"])
    assert upload.status_code == 403 and upload.json()["error"]["code"] == "photo_consent_required"
    assert declined.status_code == 400
    assert agreed.status_code == 201 and agreed.json()["given"] is True
    assert upload_after.status_code == 201
    assert someone_elses.status_code == 404
    assert PhotoConsent.objects.filter(avatar=avatar).count() == 1


def test_withdrawing_consent_is_deleting_the_avatar(client):
    user = UserFactory()
    avatar = AvatarFactory(user=user)
    client.force_login(user)

    client.post(reverse("accounts:avatar_delete", args=[avatar.public_id]), {"confirm": "on"})

    assert not Avatar.objects.filter(pk=avatar.pk).exists()
    assert not PhotoConsent.objects.filter(user=user).exists()


def test_a_site_whose_operator_gave_no_name_says_so(client, settings):
    settings.LIKENESS_OPERATOR_NAME = ""

    text = _page_text(client.get(reverse("terms")))

    assert "Whoever runs this site has not published their name here yet." in text
