"""A deletion receipt as a file the person keeps: its text, its file name, and the copy mailed
to them while their address is still known. Below the apps: their admins mail the receipts of
what an operator deleted."""

from __future__ import annotations

import logging

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.locale import user_language, user_time_zone
from accounts.mail import mail_render
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


def receipt_email_send(*, receipt: DeletionReceipt, email: str, language: str, time_zone: str) -> None:
    """Mail the receipt to its person, in their language and zone: after deleting everything,
    the last thing sent to that address (the account is gone, so the caller read them first);
    after an operator deleted something of theirs, how they learn of it. A mail server that is
    down must not undo a deletion, so a failure is logged, not raised."""
    try:
        mail_render(
            to=email, language=language, time_zone=time_zone,
            subject_template="accounts/receipt_email_subject.txt",
            body_template="accounts/receipt.txt",
            context={"receipt": receipt, "lines": receipt_lines(receipt=receipt), "page_url": receipt_page_url(receipt=receipt)},
        ).send()
    except Exception:
        logger.exception("The deletion receipt %s could not be mailed", receipt.pk)


def receipt_email_send_to_user(*, receipt: DeletionReceipt, user) -> None:
    """The receipt of what an operator deleted, to a person whose account stays."""
    receipt_email_send(
        receipt=receipt, email=user.email, language=user_language(user=user), time_zone=user_time_zone(user=user)
    )
