"""What every page's header shows of the signed-in person: their unread notices, read only when shown."""

from accounts.notices import notices_take_unread


def notices(request):
    """Unread notices for base.html, fetched (and marked read) only when the page shows them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notices": lambda: notices_take_unread(user=user)}
