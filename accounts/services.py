"""Account services: the sign-in budget and the sign-up rate limit. Notices are accounts.notices, receipts
accounts.receipts, deleting everything accounts.deletion."""

from django.conf import settings

from portrait_site.rate_limits import rate_limit_hit


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
    address_spent = rate_limit_hit(key=f"auth:sign-in:{client_ip(request)}", limit=settings.LIKENESS_AUTH_RATE_LIMIT)
    account = account.strip().lower()
    account_spent = bool(account) and rate_limit_hit(
        key=f"auth:sign-in-account:{account}",
        limit=settings.LIKENESS_SIGN_IN_ACCOUNT_LIMIT,
        window_seconds=SIGN_IN_ACCOUNT_WINDOW_SECONDS,
    )
    return address_spent or account_spent
