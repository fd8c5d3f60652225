"""Deletion receipts: what was deleted, written down for the person. A leaf module: the apps that
delete a person's things write their receipts through it."""

import secrets

from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.models import DeletionReceipt

EMAIL_HASH_SALT = "accounts.receipts.email"

RECEIPT_LABELS = [
    ("account", _("Your account (email, password, settings)")),
    ("avatars", _("Avatars")),
    # Most photos were deleted already, once their avatar was trained: what goes now is their
    # record (and any photo still stored), and the line must not read as photos kept till now.
    ("photos", _("Records of uploaded photos and their check results (photos still stored went with them)")),
    ("lora_files", _("Avatar files (the trained LoRA weights)")),
    ("portraits", _("Portraits")),
    ("files", _("Files erased from storage")),
    ("reference_images", _("Reference images of your style requests")),
    ("votes", _("Votes on style requests")),
    ("notices", _("Notices")),
    ("consent_records", _("Your consents and terms acceptances")),
    ("api_tokens", _("API tokens")),
    ("sessions", _("Signed-in sessions")),
]


def email_hash(email: str) -> str:
    """The address keyed with the site's secret: the operator can match a receipt to an address
    someone gives them, but a leaked table can't be reversed by hashing a list of addresses."""
    return salted_hmac(EMAIL_HASH_SALT, email.strip().lower(), algorithm="sha256").hexdigest()


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


def receipt_lines(*, receipt: DeletionReceipt) -> list[tuple[str, int]]:
    """The receipt's counts as (what, how many), in a fixed order a person can read."""
    removed = receipt.removed
    return [(label, removed[key]) for key, label in RECEIPT_LABELS if key in removed]
