"""Account services: notices, sign-in rate limits, and deleting a person's data with a receipt."""

import hashlib
import secrets
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import DeletionReceipt, Notice, User
from portrait_site.rate_limits import rate_limit_hit


def notice_create(*, user: User, message: str, link: str = "") -> Notice:
    """Leave a message that the user sees on their next page view."""
    return Notice.objects.create(user=user, message=message[:300], link=link[:300])


def notices_take_unread(*, user: User) -> list[Notice]:
    """The user's unread notices, marked read now: each one shows once."""
    notices = list(Notice.objects.filter(user=user, read_at__isnull=True).order_by("created_at"))
    if notices:
        Notice.objects.filter(pk__in=[notice.pk for notice in notices]).update(read_at=timezone.now())
    return notices


# --- Sign-in and sign-up rate limits ----------------------------------------------


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


# --- Deletion with receipts -------------------------------------------------------


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def deletion_receipt_create(*, email: str, scope: str, removed: dict) -> DeletionReceipt:
    return DeletionReceipt.objects.create(
        user_email_hash=email_hash(email), token=secrets.token_urlsafe(32), scope=scope, removed=removed
    )


def _summary_counts(summary: dict) -> dict:
    # The engine's storage names are random and mean nothing to a person: the receipt keeps their number.
    return {
        "avatars": summary.get("avatars", 0),
        "photos": summary.get("photos", 0),
        "portraits": summary.get("portraits", 0),
        "lora_files": summary.get("lora_files", 0),
        "files": len(summary.get("files", [])),
    }


def avatar_delete_with_receipt(*, user: User, avatar) -> DeletionReceipt:
    """Delete one of the user's avatars (photos, LoRA file, portraits) and write what went."""
    from avatars.services import avatar_delete

    with transaction.atomic():
        name = avatar.name
        removed = _summary_counts(avatar_delete(avatar=avatar))
        removed["avatar_names"] = [name]
        return deletion_receipt_create(email=user.email, scope="avatar", removed=removed)


def portrait_delete_with_receipt(*, user: User, portrait) -> DeletionReceipt:
    from avatars.services import portrait_delete

    with transaction.atomic():
        removed = _summary_counts(portrait_delete(portrait=portrait))
        return deletion_receipt_create(email=user.email, scope="portrait", removed=removed)


def _sessions_delete_for_user(*, user_id: int) -> int:
    # Django's sessions carry no user index, so the live ones are decoded one by one.
    # Once the user row is gone such a session would be anonymous anyway; this removes the data too.
    session_keys = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=500)
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id)
    ]
    session_store = import_module(settings.SESSION_ENGINE).SessionStore
    for session_key in session_keys:
        # The session engine's own delete, so a copy in the session cache goes as well.
        session_store(session_key=session_key).delete()
    return len(session_keys)


def _storage_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def user_delete_everything(*, user: User) -> DeletionReceipt:
    """Delete the person's account and everything of theirs, and return the receipt.

    Orders keep their rows without the user link: bookkeeping law wants the
    amounts, dates and Stripe ids. Template requests stay for the others who
    voted on them, without an author.
    """
    from rest_framework.authtoken.models import Token

    from avatars.models import Avatar
    from avatars.services import avatar_delete
    from orders.models import Order
    from styles.models import TemplateRequest, TemplateVote

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        totals = {"avatars": 0, "photos": 0, "portraits": 0, "lora_files": 0, "files": 0}
        avatar_names = []
        for avatar in Avatar.objects.filter(user=user).order_by("created_at"):
            avatar_names.append(avatar.name)
            for key, count in _summary_counts(avatar_delete(avatar=avatar)).items():
                totals[key] += count
        # The request stays for its voters, but its reference image may show the person.
        authored = TemplateRequest.objects.filter(author=user).exclude(reference_image="")
        reference_names = list(authored.values_list("reference_image", flat=True))
        authored.update(reference_image="")
        transaction.on_commit(lambda: _storage_delete(reference_names))
        removed = {
            **totals,
            "avatar_names": avatar_names,
            "reference_images": len(reference_names),
            "template_requests_detached": TemplateRequest.objects.filter(author=user).update(author=None),
            "votes": TemplateVote.objects.filter(user=user).delete()[0],
            "notices": Notice.objects.filter(user=user).delete()[0],
            "api_tokens": Token.objects.filter(user=user).delete()[0],
            "sessions": _sessions_delete_for_user(user_id=user.pk),
            "orders_kept_without_link": Order.objects.filter(user=user).update(user=None),
            "account": 1,
        }
        email = user.email
        user.delete()
        return deletion_receipt_create(email=email, scope="everything", removed=removed)
