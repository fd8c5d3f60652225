"""django-q2 tasks for orders: thin adapters over the services."""

from orders.services import orders_reconcile


def orders_reconcile_stale_checkouts() -> dict[str, int]:
    """Scheduled every few minutes (migration 0003): the safety net under lost webhooks."""
    return orders_reconcile()

