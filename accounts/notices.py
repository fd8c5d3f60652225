"""Notices: short messages a user sees on their next page view. A leaf module, used by every app.

A notice is mostly written by a worker, which has no reader's language. So it stores the
English sentence as a catalogue id (marked with gettext_noop where it is written) and its
figures apart, and is worded when it is shown, in the language of the page that shows it:
the person reads it in the language they browse in, whatever it was when it was written.
"""

import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Notice, User


def notice_create(*, user: User, message: str, params: dict | None = None, link: str = "") -> Notice:
    """Leave a message that the user sees on their next page view. `message` is the English
    sentence, marked gettext_noop, with `%(name)s` for each of `params` (plain JSON values)."""
    notice = Notice.objects.create(user=user, message=message[:300], params=params or {}, link=link[:300])
    notices_version_replace(user_id=user.pk)
    return notice


# Every signed-in page's header asks whether the person has unread notices, and almost never do
# they: with a cache every process shares (Redis), the answer is kept in it under a version of the person's notices that every
# write replaces (after its commit), so a page reads it without a query. A reader that counted
# before a write committed files its count under the old version, which nobody reads again.
NOTICES_VERSION_KEY = "notices-version:{user_id}"
NOTICES_UNREAD_KEY = "notices-unread:{user_id}:{version}"
NOTICES_KEPT_SECONDS = 24 * 3600


def notices_version_replace(*, user_id: int) -> None:
    """Call after any write to the user's notices, inside its transaction or not."""
    transaction.on_commit(
        lambda: cache.set(NOTICES_VERSION_KEY.format(user_id=user_id), uuid.uuid4().hex, NOTICES_KEPT_SECONDS)
    )


def notices_unread_count(*, user_id: int) -> int:
    """How many notices the user has not seen, from the cache while no write replaced its version."""
    version_key = NOTICES_VERSION_KEY.format(user_id=user_id)
    version = cache.get(version_key)
    if version is None:
        cache.add(version_key, uuid.uuid4().hex, NOTICES_KEPT_SECONDS)
        version = cache.get(version_key)
    unread_key = NOTICES_UNREAD_KEY.format(user_id=user_id, version=version)
    count = cache.get(unread_key)
    if count is None:
        count = Notice.objects.filter(user_id=user_id, read_at__isnull=True).count()
        cache.set(unread_key, count, NOTICES_KEPT_SECONDS)
    return count


def stored_sentence_words(message: str, params: dict | None) -> str:
    """A sentence stored as its English catalogue id and figures (a notice, a training's
    failure reason), in the active language with its figures filled in."""
    text = gettext(message)
    if not params:
        return text
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return message % params  # a translation that lost a placeholder: say it in English


def notice_text(notice: Notice) -> str:
    """The notice in the active language, its figures filled in."""
    return stored_sentence_words(notice.message, notice.params)


def notices_take_unread(*, user: User) -> list[Notice]:
    """The user's unread notices, marked read now (each one shows once), their `message` worded
    in the active language for the page that shows them."""
    if settings.LIKENESS_CACHE_SHARED and not notices_unread_count(user_id=user.pk):
        return []
    notices = list(Notice.objects.filter(user=user, read_at__isnull=True).order_by("created_at"))
    if notices:
        Notice.objects.filter(pk__in=[notice.pk for notice in notices]).update(read_at=timezone.now())
        notices_version_replace(user_id=user.pk)
    for notice in notices:
        notice.message = notice_text(notice)
    return notices
