"""A deletion receipt as a file the person keeps: its text, its file name, and the copy mailed
to them while their address is still known. Below the apps: their admins mail the receipts of
what an operator deleted."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import DeletionReceipt
from accounts.receipts import receipt_lines

logger = logging.getLogger(__name__)


def receipt_page_url(*, receipt: DeletionReceipt) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("accounts:receipt", args=[receipt.token])


def receipt_text(*, receipt: DeletionReceipt, page_url: str) -> str:
    return render_to_string(
        "accounts/receipt.txt", {"receipt": receipt, "lines": receipt_lines(receipt=receipt), "page_url": page_url}
    )


def receipt_file_name(*, receipt: DeletionReceipt) -> str:
    return f"likeness-deletion-receipt-{receipt.created_at:%Y-%m-%d}-{receipt.token[:8]}.txt"


RECEIPT_SUBJECTS = {
    "everything": _("Your Likeness account is deleted: your receipt"),
    "avatar": _("An avatar of yours on Likeness is deleted: your receipt"),
    "portrait": _("A portrait of yours on Likeness is deleted: your receipt"),
}


def receipt_email_send(*, receipt: DeletionReceipt, email: str) -> None:
    """Mail the receipt to its person: after deleting everything, the last thing sent to that
    address; after an operator deleted something of theirs, how they learn of it. A mail server
    that is down must not undo a deletion, so a failure is logged, not raised."""
    try:
        send_mail(
            str(RECEIPT_SUBJECTS[receipt.scope]),
            receipt_text(receipt=receipt, page_url=receipt_page_url(receipt=receipt)),
            None,
            [email],
        )
    except Exception:
        logger.exception("The deletion receipt %s could not be mailed", receipt.pk)
