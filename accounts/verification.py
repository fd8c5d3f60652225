"""A verified email address before paying: a signed link by email, with an expiry and a resend
limited by rate. A leaf module: orders asks `email_check_verified` before a payment."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from portrait_site.errors import ApplicationError
from portrait_site.rate_limits import rate_limit_hit

SIGNING_SALT = "accounts.email-verification"


class EmailNotVerified(ApplicationError):
    """Paying waits for a verified address: the receipts, the refunds and the deletion receipt go there."""

    code = "email_not_verified"
    http_status = 403


class EmailVerificationLinkInvalid(ApplicationError):
    code = "verification_link_invalid"
    http_status = 400


class EmailVerificationResendLimited(ApplicationError):
    code = "throttled"
    http_status = 429


def email_check_verified(*, user: User) -> None:
    if user.email_verified_at is None:
        raise EmailNotVerified(
            f"Confirm your email address before paying: open the link we sent to {user.email}, "
            "or ask for a new one."
        )


def email_verification_token(*, user: User) -> str:
    # The address is signed in: a link mailed to an old address stops working once it changes.
    return signing.dumps({"user": user.pk, "email": user.email}, salt=SIGNING_SALT)


def email_verification_send(*, user: User, base_url: str) -> None:
    """Mail the person a link that verifies their address; `base_url` is the site as they reached it."""
    link = base_url.rstrip("/") + reverse("accounts:verify_email", args=[email_verification_token(user=user)])
    context = {"link": link, "hours": settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS}
    send_mail(
        "Confirm your email address for Likeness",
        render_to_string("accounts/verify_email_message.txt", context),
        None,
        [user.email],
    )


def email_verification_resend(*, user: User, base_url: str) -> None:
    """Another link, at most settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR an hour, so the
    form can't be used to flood an inbox."""
    if user.email_verified_at is not None:
        return
    limit = settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR
    if rate_limit_hit(key=f"verify-email:{user.pk}", limit=limit, window_seconds=3600):
        raise EmailVerificationResendLimited(
            f"We sent {limit} links this hour already. Look for them in your inbox and spam folder, "
            "or ask again in an hour."
        )
    email_verification_send(user=user, base_url=base_url)


def email_verify(*, token: str) -> tuple[User, bool]:
    """The user whose address the link was sent to, marked verified now (once), and whether
    this opening is the one that verified it."""
    max_age = timedelta(hours=settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS)
    try:
        payload = signing.loads(token, salt=SIGNING_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise EmailVerificationLinkInvalid(
            "This link is too old. Sign in and ask for a new one: it works for "
            f"{settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS} hours."
        ) from None
    except signing.BadSignature:
        raise EmailVerificationLinkInvalid("This link is not one we sent, or it was cut short.") from None
    user = User.objects.filter(pk=payload.get("user"), email=payload.get("email")).first()
    if user is None:
        raise EmailVerificationLinkInvalid("This link was for an address that is no longer on any account.")
    if user.email_verified_at is not None:
        return user, False
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user, True
