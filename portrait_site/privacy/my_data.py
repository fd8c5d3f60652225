"""Everything stored about a person, counted per avatar, as the My data page lists it."""

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import ApiToken, User
from avatars.models import Avatar, Portrait
from orders.models import Order


def _lora_size(avatar) -> int | None:
    if not avatar.lora_file:
        return None
    try:
        return avatar.lora_file.size
    except OSError:
        return None


def my_data_for_user(*, user: User) -> dict:
    """Everything stored about the user, counted per avatar, for the My data page."""
    avatars = list(
        Avatar.objects.filter(user=user)
        .select_related("photo_consent")
        .annotate(
            photos_kept=Count("photos", filter=~Q(photos__image=""), distinct=True),
            portrait_count=Count("portraits", distinct=True),
        )
        .order_by("-created_at")
    )
    portraits_by_avatar: dict[int, list] = {}
    for portrait in Portrait.objects.filter(avatar__in=avatars).select_related("template").order_by("-created_at"):
        portraits_by_avatar.setdefault(portrait.avatar_id, []).append(portrait)
    for avatar in avatars:
        avatar.lora_bytes = _lora_size(avatar)
        avatar.portrait_list = portraits_by_avatar.get(avatar.pk, [])
    return {
        "avatars": avatars,
        "orders": list(Order.objects.filter(user=user).order_by("-created_at")),
        "terms_acceptances": list(user.terms_acceptances.order_by("-accepted_at")),
        "template_requests": user.template_requests.count(),
        "votes": user.template_votes.count(),
        # Expired tokens open nothing; they are not listed.
        "api_tokens": list(ApiToken.objects.filter(user=user, expires_at__gt=timezone.now())),
    }
