"""Deleting everything of a person's: above the apps it deletes from (avatars, orders, styles)."""

from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts.locale import user_language, user_time_zone
from accounts.models import ApiToken, DeletionReceipt, Notice, PhotoConsent, TermsAcceptance, User
from accounts.receipt_files import receipt_email_send
from accounts.receipts import deletion_receipt_create, receipt_counts
from avatars.models import Avatar
from avatars.services import avatar_delete
from orders.models import Order
from portrait_site.core.files import storage_delete_files
from styles.models import TemplateRequest, TemplateVote


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


def user_delete_everything(*, user: User) -> DeletionReceipt:
    """Delete the person's account and everything of theirs, and return the receipt.

    Orders keep their rows without the user link: bookkeeping law wants the
    amounts, dates and Stripe ids. The receipt is mailed to the address once the deletion has
    committed, and can be downloaded from its page. Template requests stay for the others who
    voted on them, without an author.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        totals = {"avatars": 0, "photos": 0, "portraits": 0, "lora_files": 0, "files": 0}
        consent_records = (
            PhotoConsent.objects.filter(user=user).delete()[0] + TermsAcceptance.objects.filter(user=user).delete()[0]
        )
        avatar_names = []
        for avatar in Avatar.objects.filter(user=user).order_by("created_at"):
            avatar_names.append(avatar.name)
            for key, count in receipt_counts(avatar_delete(avatar=avatar)).items():
                totals[key] += count
        # The request stays for its voters, but its reference image may show the person.
        authored = TemplateRequest.objects.filter(author=user).exclude(reference_image="")
        reference_names = list(authored.values_list("reference_image", flat=True))
        authored.update(reference_image="")
        transaction.on_commit(lambda: storage_delete_files(reference_names))
        removed = {
            **totals,
            "avatar_names": avatar_names,
            "reference_images": len(reference_names),
            "template_requests_detached": TemplateRequest.objects.filter(author=user).update(author=None),
            "votes": TemplateVote.objects.filter(user=user).delete()[0],
            "notices": Notice.objects.filter(user=user).delete()[0],
            "consent_records": consent_records,
            "api_tokens": ApiToken.objects.filter(user=user).delete()[0],
            "sessions": _sessions_delete_for_user(user_id=user.pk),
            "orders_kept_without_link": Order.objects.filter(user=user).update(user=None),
            "account": 1,
        }
        email, language, time_zone = user.email, user_language(user=user), user_time_zone(user=user)
        user.delete()
        receipt = deletion_receipt_create(email=email, scope="everything", removed=removed)
        # The address lives on only in this closure, for the one mail that tells its owner what went.
        transaction.on_commit(
            lambda: receipt_email_send(receipt=receipt, email=email, language=language, time_zone=time_zone)
        )
        return receipt
