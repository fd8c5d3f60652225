"""Account services: signing up, the sign-in budget and the sign-up rate limit. Notices are
accounts.notices, receipts accounts.receipts, deleting everything portrait_site.privacy.deletion."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.locale import user_locale_capture
from accounts.mail import mail_user
from accounts.models import User
from accounts.terms import terms_accept
from accounts.verification import email_verification_send
from portrait_site.core.rate_limits import rate_limit_hit


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


# The per-account budget's window: long, so guessing one account's password from many
# addresses gets a few dozen tries an hour, not a few hundred.
SIGN_IN_ACCOUNT_WINDOW_SECONDS = 3600


def sign_in_budget_spent(*, request, account: str) -> bool:
    """Count one sign-in attempt, by the website's form, the API's token endpoint or the admin's
    login: one budget for all three. True when this client address is over
    settings.LIKENESS_AUTH_RATE_LIMIT this minute, or the account named `account` (its email,
    as typed) is over settings.LIKENESS_SIGN_IN_ACCOUNT_LIMIT this hour."""
    address_spent = auth_rate_limit_hit(request=request, scope="sign-in")
    account = account.strip().lower()
    account_spent = bool(account) and rate_limit_hit(
        key=f"auth:sign-in-account:{account}",
        limit=settings.LIKENESS_SIGN_IN_ACCOUNT_LIMIT,
        window_seconds=SIGN_IN_ACCOUNT_WINDOW_SECONDS,
    )
    return address_spent or account_spent
