"""A fixed-window counter in Django's cache (Redis when REDIS_URL is set, so shared by every process)."""

import time

from django.core.cache import cache


def rate_limit_hit(*, key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one action under `key`; True when this window already had `limit` of them."""
    window = int(time.time() // window_seconds)
    counter = f"rate:{key}:{window}"
    cache.add(counter, 0, timeout=window_seconds * 2)
    try:
        count = cache.incr(counter)
    except ValueError:
        # The counter expired between add and incr.
        cache.set(counter, 1, timeout=window_seconds * 2)
        count = 1
    return count > limit
