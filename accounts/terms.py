"""The terms and privacy notice: their version, the figures their text quotes, and who accepted
which version when. A leaf module: avatars and orders ask it before an upload or a payment."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import TermsAcceptance, User
from portrait_site.core.errors import ApplicationError


class TermsNotAccepted(ApplicationError):
    """The person has not accepted the current version of the terms yet."""

    code = "terms_not_accepted"
    http_status = 403
    next_step_url_name = "accounts:terms_accept"


def terms_version() -> str:
    return settings.LIKENESS_TERMS_VERSION


def terms_figures() -> dict:
    """Every figure the terms and privacy pages quote, read from the settings, so the text can
    never promise a number the code does not apply. An operator's own templates get these too."""
    session_days = settings.SESSION_COOKIE_AGE // 86400
    return {
        "version": terms_version(),
        "operator_named": bool(settings.LIKENESS_OPERATOR_NAME),
        "operator_name": settings.LIKENESS_OPERATOR_NAME or _("the operator of this site"),
        "operator_contact": settings.LIKENESS_OPERATOR_CONTACT,
        "operator_address": settings.LIKENESS_OPERATOR_ADDRESS,
        "price_minor": settings.LIKENESS_PRICE_MINOR,
        "currency": settings.LIKENESS_CURRENCY,
        "min_photos": settings.LIKENESS_MIN_PHOTOS,
        "max_photos": settings.LIKENESS_MAX_PHOTOS,
        "max_templates": settings.LIKENESS_MAX_TEMPLATES_PER_ORDER,
        "failed_photos_keep_days": settings.LIKENESS_FAILED_PHOTOS_KEEP_DAYS,
        # Set by the unpaid-photo sweep where it is installed; without it unpaid photos stay
        # until the person deletes them or their avatar, and the text says so.
        "unpaid_photos_keep_days": getattr(settings, "LIKENESS_UNPAID_PHOTOS_KEEP_DAYS", None),
        # What a purchase buys beyond the first portraits, where the setting exists.
        "extra_renders": getattr(settings, "LIKENESS_EXTRA_RENDERS", None),
        "training_attempts": settings.LIKENESS_JOB_MAX_ATTEMPTS,
        "verification_link_hours": settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS,
        "password_reset_link_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        "session_days": session_days,
        "local_payments": settings.LIKENESS_LOCAL_PAYMENTS,
    }


def terms_accepted(*, user: User) -> bool:
    return TermsAcceptance.objects.filter(user=user, version=terms_version()).exists()


def terms_check_accepted(*, user: User) -> None:
    """Refuses an upload or a payment until the person has accepted the current version."""
    if not terms_accepted(user=user):
        raise TermsNotAccepted(
            _("The terms changed (version %(version)s). Read and accept them first: "
              "they say what happens to your photos, your avatar and your money.") % {"version": terms_version()}
        )


def terms_accept(*, user: User, version: str) -> TermsAcceptance:
    """Record that the person accepted `version`, which must be the current one: accepting a
    text they were never shown means nothing. Accepting twice keeps the first time."""
    if version != terms_version():
        raise TermsNotAccepted(
            _("Version %(version)s is not the current terms; the current one is %(current)s.")
            % {"version": version or _("(none)"), "current": terms_version()}
        )
    try:
        with transaction.atomic():
            return TermsAcceptance.objects.create(user=user, version=version)
    except IntegrityError:
        return TermsAcceptance.objects.get(user=user, version=version)


def terms_acceptances(*, user: User) -> list[TermsAcceptance]:
    return list(TermsAcceptance.objects.filter(user=user).order_by("accepted_at"))
