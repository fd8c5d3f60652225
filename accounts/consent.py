"""Separate consent for face photos, one per avatar, and the one gate in front of every upload.

A leaf module: the avatars' upload page and API ask `photo_upload_check` before taking a photo.
Withdrawing the consent is deleting the avatar (the record goes with it), so there is no
"withdraw" here that would leave photos behind.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from accounts.models import PhotoConsent, User
from accounts.terms import terms_check_accepted, terms_figures, terms_version
from portrait_site.core.errors import ApplicationError


class PhotoConsentRequired(ApplicationError):
    """No photo of this avatar is taken before its owner consented on the consent screen."""

    code = "photo_consent_required"
    http_status = 403


def photo_consent_statement(*, avatar) -> str:
    """What the person agrees to for this avatar, one sentence a line, with today's figures."""
    context = {**terms_figures(), "avatar_name": avatar.name}
    return render_to_string("legal/photo_consent.txt", context).strip()


def photo_consent_given(*, avatar) -> bool:
    return PhotoConsent.objects.filter(avatar=avatar).exists()


def photo_consent_give(*, user: User, avatar) -> PhotoConsent:
    """Record the owner's consent for this avatar's photos; a second time keeps the first record."""
    if avatar.user_id != user.pk:
        raise PhotoConsentRequired(_("Only the avatar's owner can consent to its photos."))
    terms_check_accepted(user=user)
    try:
        with transaction.atomic():
            return PhotoConsent.objects.create(
                avatar=avatar, user=user, statement=photo_consent_statement(avatar=avatar),
                terms_version=terms_version(),
            )
    except IntegrityError:
        return PhotoConsent.objects.get(avatar=avatar)


def photo_upload_check(*, user: User, avatar) -> None:
    """Refuses a photo until the current terms are accepted and this avatar has its consent."""
    terms_check_accepted(user=user)
    if not photo_consent_given(avatar=avatar):
        raise PhotoConsentRequired(
            _("Before the first photo, say yes to how this avatar's photos are used: "
              "open the avatar's page, or POST its photo-consent endpoint.")
        )


def photo_consents(*, user: User) -> list[PhotoConsent]:
    return list(PhotoConsent.objects.filter(user=user).select_related("avatar").order_by("given_at"))
