"""What the account pages read of accounts: deletion receipts. A person's stored data, over every
app, is portrait_site.privacy.my_data."""


from accounts.models import DeletionReceipt


def receipt_get(*, token: str) -> DeletionReceipt | None:
    return DeletionReceipt.objects.filter(token=token).first()
