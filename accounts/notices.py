"""Notices: short messages a user sees on their next page view. A leaf module, used by every app.

A notice is mostly written by a worker, which has no reader's language. So it stores the
English sentence as a catalogue id (marked with gettext_noop where it is written) and its
figures apart, and is worded when it is shown, in the language of the page that shows it:
the person reads it in the language they browse in, whatever it was when it was written.
"""

from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Notice, User


def notice_create(*, user: User, message: str, params: dict | None = None, link: str = "") -> Notice:
    """Leave a message that the user sees on their next page view. `message` is the English
    sentence, marked gettext_noop, with `%(name)s` for each of `params` (plain JSON values)."""
    return Notice.objects.create(user=user, message=message[:300], params=params or {}, link=link[:300])


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
    notices = list(Notice.objects.filter(user=user, read_at__isnull=True).order_by("created_at"))
    if notices:
        Notice.objects.filter(pk__in=[notice.pk for notice in notices]).update(read_at=timezone.now())
    for notice in notices:
        notice.message = notice_text(notice)
    return notices
