"""A verified email address before paying: a signed link by email, with an expiry and a resend
limited by rate. A leaf module: orders asks `email_check_verified` before a payment."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.mail import mail_user
from accounts.models import User
from portrait_site.core.errors import ApplicationError
from portrait_site.core.rate_limits import rate_limit_hit

SIGNING_SALT = "accounts.email-verification"


class EmailNotVerified(ApplicationError):
    """Paying waits for a verified address: the receipts, the refunds and the deletion receipt go there."""

    code = "email_not_verified"
    http_status = 403
    next_step_url_name = "accounts:verify_email_needed"


class EmailVerificationLinkInvalid(ApplicationError):
    code = "verification_link_invalid"
    http_status = 400


class EmailVerificationResendLimited(ApplicationError):
    code = "throttled"
    http_status = 429


def email_check_verified(*, user: User) -> None:
    if user.email_verified_at is None:
        raise EmailNotVerified(
            _("Confirm your email address before paying: open the link we sent to %(email)s, "
              "or ask for a new one.") % {"email": user.email}
        )


def email_verification_token(*, user: User) -> str:
    # The address is signed in: a link mailed to an old address stops working once it changes.
    return signing.dumps({"user": user.pk, "email": user.email}, salt=SIGNING_SALT)


def email_verification_send(*, user: User) -> None:
    """Mail the person a link that verifies their address. The link is built from the configured
    address (LIKENESS_SITE_URL), never the request's Host: a forged Host would mail a real person
    a link to someone else's site."""
    link = settings.SITE_URL.rstrip("/") + reverse("accounts:verify_email", args=[email_verification_token(user=user)])
    context = {"link": link, "hours": settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS}
    mail_user(
        user=user,
        subject_template="accounts/verify_email_subject.txt",
        body_template="accounts/verify_email_message.txt",
        context=context,
    )


def email_verification_resend(*, user: User) -> None:
    """Another link, at most settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR an hour, so the
    form can't be used to flood an inbox."""
    if user.email_verified_at is not None:
        return
    limit = settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR
    if rate_limit_hit(key=f"verify-email:{user.pk}", limit=limit, window_seconds=3600):
        raise EmailVerificationResendLimited(
            _("We sent %(limit)s links this hour already. Look for them in your inbox and spam folder, "
              "or ask again in an hour.") % {"limit": limit}
        )
    email_verification_send(user=user)


def email_verify(*, token: str) -> tuple[User, bool]:
    """The user whose address the link was sent to, marked verified now (once), and whether
    this opening is the one that verified it."""
    max_age = timedelta(hours=settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS)
    try:
        payload = signing.loads(token, salt=SIGNING_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise EmailVerificationLinkInvalid(
            _("This link is too old. Sign in and ask for a new one: it works for %(hours)s hours.")
            % {"hours": settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS}
        ) from None
    except signing.BadSignature:
        raise EmailVerificationLinkInvalid(_("This link is not one we sent, or it was cut short.")) from None
    user = User.objects.filter(pk=payload.get("user"), email=payload.get("email")).first()
    if user is None:
        raise EmailVerificationLinkInvalid(_("This link was for an address that is no longer on any account."))
    if user.email_verified_at is not None:
        return user, False
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user, True
