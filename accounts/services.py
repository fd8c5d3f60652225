"""Account services: signing up, the sign-in budget and the sign-up rate limit. Notices are
accounts.notices, receipts accounts.receipts, deleting everything portrait_site.privacy.deletion."""

import hashlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.locale import user_locale_capture
from accounts.mail import mail_user
from accounts.models import User
from accounts.terms import terms_accept
from accounts.verification import email_verification_send
from portrait_site.core.errors import ApplicationError
from portrait_site.core.rate_limits import (
    rate_limit_add,
    rate_limit_count,
    rate_limit_hit,
    rate_limit_window_left,
)


def account_sign_up(
    *, email: str, password: str, terms_version: str, language: str = "", time_zone: str = ""
) -> None:
    """Create the account and mail it the link that confirms the address; for an address that
    already has an account, mail its owner a note instead and create nothing.

    Returns nothing on purpose: the page answers the same either way, so sign-up never tells
    anyone whether an address has an account. Only the mailbox's owner learns which it was.
    """
    email = email.strip().lower()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password)
                # What the person reads in, for every mail from now on (accounts.locale).
                user_locale_capture(user=user, language=language, time_zone=time_zone)
                terms_accept(user=user, version=terms_version)
        except IntegrityError:
            # A second request signed the same address up a moment ago: it has an account now.
            existing = User.objects.filter(email__iexact=email).first()
            if existing is None:
                raise
        else:
            email_verification_send(user=user)
            return
    _sign_up_attempt_notify(user=existing)


def _sign_up_attempt_notify(*, user: User) -> None:
    # As many notes an hour as confirmation links: sign-up must not flood an owner's inbox.
    limit = settings.LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR
    if rate_limit_hit(key=f"sign-up-attempt:{user.pk}", limit=limit, window_seconds=3600):
        return
    site = settings.SITE_URL.rstrip("/")
    mail_user(
        user=user,
        subject_template="accounts/signup_attempt_subject.txt",
        body_template="accounts/signup_attempt_message.txt",
        context={
            "login_link": site + reverse("accounts:login"),
            "reset_link": site + reverse("accounts:password_reset"),
        },
    )


def client_ip(request) -> str:
    """The client's address as the outermost trusted proxy saw it (the same rule as the API's
    throttles, DRF's NUM_PROXIES). Entries the client wrote into X-Forwarded-For itself come
    before the proxies' and are never read: they would let anyone pick a fresh address per attempt."""
    proxies = settings.LIKENESS_TRUSTED_PROXIES
    forwarded = [address.strip() for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [address for address in forwarded if address]
    if proxies and forwarded:
        return forwarded[-min(proxies, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def auth_rate_limit_hit(*, request, scope: str) -> bool:
    """Count one attempt from this client; True when it is over settings.LIKENESS_AUTH_RATE_LIMIT this minute."""
    return rate_limit_hit(key=f"auth:{scope}:{client_ip(request)}", limit=settings.LIKENESS_AUTH_RATE_LIMIT)


class SignInRefused(ApplicationError):
    code = "throttled"
    http_status = 429
    page_template = "accounts/rate_limited.html"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after

    def page_context(self) -> dict:
        return {"scope": "login", "message": self.message}

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# Wrong passwords against one account, counted per address and for the account as a whole. Only
# wrong passwords count, and only attempts that were let through: a stranger's refused flood
# spends nothing of the owner's. README's "Security" gives the figures these make.
SIGN_IN_ACCOUNT_WINDOW_SECONDS = 3600


def _sign_in_delay_seconds() -> int:
    return settings.LIKENESS_SIGN_IN_DELAY_MINUTES * 60


def _failure_keys(*, request, account: str) -> tuple[str, str]:
    # Hashed: the text typed may be anything, of any length.
    account = hashlib.sha256(account.encode()).hexdigest()
    return f"auth:sign-in-failed:{account}:{client_ip(request)}", f"auth:sign-in-failed:{account}"


def sign_in_check(*, request, account: str) -> None:
    """Before a sign-in by the website's form, the API's token endpoint or the admin's login (one
    budget for all three): raise SignInRefused when this client address is over
    settings.LIKENESS_AUTH_RATE_LIMIT attempts this minute, or may not try this account yet.

    An address may try an account until it has made LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS wrong
    guesses in a delay window (LIKENESS_SIGN_IN_DELAY_MINUTES), then waits for the next window.
    Once the account has had LIKENESS_SIGN_IN_ACCOUNT_LIMIT wrong guesses this hour, from every
    address together, only an address with no wrong guess in its window may try: guessing slows
    to one try per address per window, and the owner, from an address that made no wrong guess,
    still signs in with the right password. The account is never locked."""
    if auth_rate_limit_hit(request=request, scope="sign-in"):
        raise SignInRefused(
            _("Too many sign-in attempts from your network. Wait a minute, then try again."),
            retry_after=rate_limit_window_left(window_seconds=60),
        )
    account = account.strip().lower()
    if not account:
        return
    address_key, account_key = _failure_keys(request=request, account=account)
    delay = _sign_in_delay_seconds()
    address_failures = rate_limit_count(key=address_key, window_seconds=delay)
    account_slowed = (
        rate_limit_count(key=account_key, window_seconds=SIGN_IN_ACCOUNT_WINDOW_SECONDS)
        >= settings.LIKENESS_SIGN_IN_ACCOUNT_LIMIT
    )
    if address_failures >= settings.LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS or (account_slowed and address_failures):
        wait = rate_limit_window_left(window_seconds=delay)
        raise SignInRefused(
            _("Too many wrong passwords for this account from your network. Try again in %(minutes)s "
              "minutes, or set a new password with \"Forgot your password?\".") % {"minutes": -(-wait // 60)},
            retry_after=wait,
        )


def sign_in_failure_record(*, request, account: str) -> None:
    """Count one wrong password for `account` (its email, as typed) from this client address,
    after sign_in_check let the attempt through."""
    account = account.strip().lower()
    if not account:
        return
    address_key, account_key = _failure_keys(request=request, account=account)
    rate_limit_add(key=address_key, window_seconds=_sign_in_delay_seconds())
    rate_limit_add(key=account_key, window_seconds=SIGN_IN_ACCOUNT_WINDOW_SECONDS)


def password_reset_mail_send(*, user: User, subject_template: str, body_template: str, context: dict) -> None:
    """Mail a password-reset link, at most settings.LIKENESS_PASSWORD_RESETS_PER_HOUR an hour per
    account, so the form can't flood an inbox. Past the cap nothing is sent and nothing is said:
    the page answers the same for every address, so it never tells whether one has an account."""
    if rate_limit_hit(key=f"password-reset:{user.pk}", limit=settings.LIKENESS_PASSWORD_RESETS_PER_HOUR,
                      window_seconds=3600):
        return
    mail_user(user=user, subject_template=subject_template, body_template=body_template, context=context)
