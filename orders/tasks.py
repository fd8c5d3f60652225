"""django-q2 entry points for orders: thin adapters over the services (names stored in the broker
and in migration 0003's schedule: keep them)."""

from orders.services import order_refund_failed_build as refund_failed_build
from orders.services import orders_reconcile


def orders_reconcile_stale_checkouts() -> dict[str, int]:
    """Scheduled every few minutes (migration 0003): the safety net under lost webhooks and refunds."""
    return orders_reconcile()


def order_refund_failed_build(avatar_id: int) -> None:
    """settings.LIKENESS_ON_BUILD_FAILED: an avatar's build failed for good."""
    refund_failed_build(avatar_id=avatar_id)
