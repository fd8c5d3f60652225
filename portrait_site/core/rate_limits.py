"""A fixed-window counter in Django's cache (Redis when REDIS_URL is set, so shared by every process)."""

import time

from django.core.cache import cache


def rate_limit_hit(*, key: str, limit: int, window_seconds: int = 60, amount: int = 1) -> bool:
    """Count `amount` actions under `key`; True when they would take this window past `limit`.

    Refused actions are not counted: a request refused for asking too much leaves the
    budget it did not use for a smaller one.
    """
    window = int(time.time() // window_seconds)
    counter = f"rate:{key}:{window}"
    cache.add(counter, 0, timeout=window_seconds * 2)
    try:
        count = cache.incr(counter, amount)
    except ValueError:
        # The counter expired between add and incr.
        cache.set(counter, amount, timeout=window_seconds * 2)
        count = amount
    if count > limit:
        try:
            cache.decr(counter, amount)
        except ValueError:
            pass  # expired meanwhile: nothing left to take back
        return True
    return False


def rate_limit_give_back(*, key: str, window_seconds: int = 60, amount: int = 1) -> None:
    """Take back `amount` counted under `key` in this window: the action they allowed was refused
    by another budget after all."""
    try:
        cache.decr(f"rate:{key}:{int(time.time() // window_seconds)}", amount)
    except ValueError:
        pass  # expired meanwhile: nothing left to take back


def rate_limit_window_left(*, window_seconds: int) -> int:
    """Seconds until the current window ends and its counts start again."""
    return window_seconds - int(time.time()) % window_seconds
