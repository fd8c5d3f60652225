"""Account services: sign-in and sign-up rate limits. Notices are accounts.notices, receipts
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
