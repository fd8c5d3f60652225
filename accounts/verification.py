"""A verified email address before paying: a link by email holding a random one-time token, with
an expiry and a resend limited by rate. A leaf module: orders asks `email_check_verified` before a payment."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.mail import mail_user
from accounts.models import EmailConfirmation, User
from portrait_site.core.errors import ApplicationError
from portrait_site.core.rate_limits import rate_limit_hit


class EmailNotVerified(ApplicationError):
    """Paying waits for a verified address: the receipts, the refunds and the deletion receipt go there."""

    code = "email_not_verified"
    http_status = 403
    next_step_url_name = "accounts:verify_email_needed"


class EmailVerificationLinkInvalid(ApplicationError):
    code = "verification_link_invalid"
    http_status = 400
    page_template = "accounts/verify_email_done.html"

    def page_context(self) -> dict:
        return {"refusal": self.message}


class EmailVerificationLinkNotYours(ApplicationError):
    code = "verification_link_not_yours"
    http_status = 403
    page_template = "accounts/verify_email_done.html"

    def page_context(self) -> dict:
        return {"not_yours": self.message}


class EmailVerificationResendLimited(ApplicationError):
    code = "throttled"
    http_status = 429


def email_check_verified(*, user: User) -> None:
    if user.email_verified_at is None:
        raise EmailNotVerified(
            _("Confirm your email address before paying: open the link we sent to %(email)s, "
              "or ask for a new one.") % {"email": user.email}
        )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def email_verification_send(*, user: User) -> None:
    """Mail the person a link that verifies their address: a random token, kept on the server as
    its hash (accounts.models.EmailConfirmation), so only the mailbox holds the link. It is built
    from the configured address (LIKENESS_SITE_URL), never the request's Host: a forged Host would
    mail a real person a link to someone else's site."""
    token = secrets.token_urlsafe(32)
    EmailConfirmation.objects.filter(
        user=user, created_at__lt=timezone.now() - _max_age()
    ).delete()
    EmailConfirmation.objects.create(user=user, email=user.email, token_hash=_token_hash(token))
    link = settings.SITE_URL.rstrip("/") + reverse("accounts:verify_email", args=[token])
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


def _max_age() -> timedelta:
    return timedelta(hours=settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS)


@dataclass(frozen=True)
class EmailVerified:
    user: User
    # This opening is the one that verified the address.
    just_verified: bool
    # This opening may start a session as `user` (see email_verify).
    sign_in: bool


def email_verify(*, token: str, visitor: User | AnonymousUser) -> EmailVerified:
    """Verify the address the link was mailed to, on behalf of `visitor`, the browser that opened it.

    The link proves the mailbox, and signs in only where that is all there is to prove: on its
    first opening, for an account that has never signed in (it was just made: signing up signs no
    one in, so as not to tell whether the address had an account), never a staff account, and
    never over a session, whoever's it is. A visitor signed in as someone else keeps their own
    session: the link is refused and changes nothing, so one click on a stranger's link cannot
    swap the account someone is using."""
    with transaction.atomic():
        confirmation = (
            EmailConfirmation.objects.select_for_update().select_related("user")
            .filter(token_hash=_token_hash(token)).first()
        )
        if confirmation is None:
            raise EmailVerificationLinkInvalid(_("This link is not one we sent, or it was cut short."))
        user = confirmation.user
        if visitor.is_authenticated and visitor.pk != user.pk:
            raise EmailVerificationLinkNotYours(
                _("This link confirms the address of another account, not yours. You are still signed in "
                  "as %(email)s, and nothing changed. To use the link, sign out first.") % {"email": visitor.email}
            )
        if confirmation.created_at < timezone.now() - _max_age():
            raise EmailVerificationLinkInvalid(
                _("This link is too old. Sign in and ask for a new one: it works for %(hours)s hours.")
                % {"hours": settings.LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS}
            )
        if confirmation.email != user.email:
            raise EmailVerificationLinkInvalid(_("This link was for an address that is no longer on any account."))
        first_opening = confirmation.opened_at is None
        if first_opening:
            confirmation.opened_at = timezone.now()
            confirmation.save(update_fields=["opened_at"])
        just_verified = user.email_verified_at is None
        if just_verified:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
    sign_in = (
        first_opening and not visitor.is_authenticated and user.last_login is None
        and not user.is_staff and not user.is_superuser and user.is_active
    )
    return EmailVerified(user=user, just_verified=just_verified, sign_in=sign_in)
