"""Deletion receipts: what was deleted, written down for the person. A leaf module: the apps that
delete a person's things write their receipts through it."""

import hashlib
import secrets

from accounts.models import DeletionReceipt


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def deletion_receipt_create(*, email: str, scope: str, removed: dict) -> DeletionReceipt:
    return DeletionReceipt.objects.create(
        user_email_hash=email_hash(email), token=secrets.token_urlsafe(32), scope=scope, removed=removed
    )


def receipt_counts(summary: dict) -> dict:
    """What a receipt keeps of a deletion summary: how many of each thing went."""
    # The engine's storage names are random and mean nothing to a person: the receipt keeps their number.
    return {
        "avatars": summary.get("avatars", 0),
        "photos": summary.get("photos", 0),
        "portraits": summary.get("portraits", 0),
        "lora_files": summary.get("lora_files", 0),
        "files": len(summary.get("files", [])),
    }
