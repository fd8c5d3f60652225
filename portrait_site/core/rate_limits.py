"""A fixed-window counter in Django's cache (Redis when REDIS_URL is set, so shared by every process)."""

import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _


def rate_limit_hit(*, key: str, limit: int, window_seconds: int = 60, amount: int = 1) -> bool:
    """Count `amount` actions under `key`; True when they would take this window past `limit`.

    Refused actions are not counted: a request refused for asking too much leaves the
    budget it did not use for a smaller one.
    """
    counter = _counter(key, window_seconds)
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


def rate_limit_count(*, key: str, window_seconds: int) -> int:
    """How many actions were counted under `key` in this window (rate_limit_add), counting none."""
    return cache.get(_counter(key, window_seconds), 0)


def rate_limit_add(*, key: str, window_seconds: int) -> int:
    """Count one action under `key` in this window, with no limit; returns the count."""
    counter = _counter(key, window_seconds)
    cache.add(counter, 0, timeout=window_seconds * 2)
    try:
        return cache.incr(counter)
    except ValueError:
        cache.set(counter, 1, timeout=window_seconds * 2)
        return 1


def _counter(key: str, window_seconds: int) -> str:
    return f"rate:{key}:{int(time.time() // window_seconds)}"


def rate_limit_give_back(*, key: str, window_seconds: int = 60, amount: int = 1) -> None:
    """Take back `amount` counted under `key` in this window: the action they allowed was refused
    by another budget after all."""
    try:
        cache.decr(_counter(key, window_seconds), amount)
    except ValueError:
        pass  # expired meanwhile: nothing left to take back


def rate_limit_window_left(*, window_seconds: int) -> int:
    """Seconds until the current window ends and its counts start again."""
    return window_seconds - int(time.time()) % window_seconds


def archive_build_refused(*, user_id: int) -> bool:
    """Count one archive (the data export or a portraits zip) built for this person; True when it
    would be over settings.LIKENESS_ARCHIVES_PER_HOUR. Each one reads every file of theirs, so a
    person clicking fast (or a script) can't keep the web processes busy building them."""
    return rate_limit_hit(key=f"archive:{user_id}", limit=settings.LIKENESS_ARCHIVES_PER_HOUR, window_seconds=3600)


def archives_limited_message() -> str:
    return _("You downloaded %(count)s archives this hour already. The files are all still here: try again "
             "within the hour.") % {"count": settings.LIKENESS_ARCHIVES_PER_HOUR}
