"""Notices: short messages a user sees on their next page view. A leaf module, used by every app."""

from django.utils import timezone

from accounts.models import Notice, User


def notice_create(*, user: User, message: str, link: str = "") -> Notice:
    """Leave a message that the user sees on their next page view."""
    return Notice.objects.create(user=user, message=message[:300], link=link[:300])


def notices_take_unread(*, user: User) -> list[Notice]:
    """The user's unread notices, marked read now: each one shows once."""
    notices = list(Notice.objects.filter(user=user, read_at__isnull=True).order_by("created_at"))
    if notices:
        Notice.objects.filter(pk__in=[notice.pk for notice in notices]).update(read_at=timezone.now())
    return notices
