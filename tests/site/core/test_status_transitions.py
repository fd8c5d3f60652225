"""Every status move of every model with a lifecycle, written out by hand.

The expectations are the product's rules as a person would state them, not read from the
TRANSITIONS tables under test: a wrong entry there (an edit that lets a refunded order be
paid again, say) makes a case below fail.
"""

import pytest

from avatars.models import Avatar, Photo, RenderJob, TrainingJob
from orders.models import Order, Refund
from portrait_site.core.status import InvalidTransition
from styles.models import TemplateRequest

ALLOWED = {
    Avatar: {
        ("collecting", "paid"),
        ("paid", "training"),
        ("paid", "failed"),
        ("training", "ready"),
        ("training", "failed"),
        # A worker that died mid-training: its job is requeued and the avatar waits again.
        ("training", "paid"),
        # After a failed build: pay again (an operator's retry) or change the photo set.
        ("failed", "paid"),
        ("failed", "collecting"),
    },
    Photo: {
        ("accepted", "rejected"),
        ("rejected", "accepted"),
        ("accepted", "removed"),
        ("rejected", "removed"),
    },
    TrainingJob: {
        ("queued", "running"),
        ("queued", "cancelled"),
        ("queued", "failed"),
        ("running", "succeeded"),
        ("running", "failed"),
        ("running", "queued"),
        ("running", "cancelled"),
        ("failed", "queued"),
    },
    Order: {
        ("pending", "awaiting_payment"),
        ("pending", "paid"),
        ("pending", "expired"),
        ("awaiting_payment", "paid"),
        ("awaiting_payment", "expired"),
        ("awaiting_payment", "payment_failed"),
        # Stripe can still report a payment for a session we had given up on.
        ("expired", "paid"),
        ("payment_failed", "paid"),
        ("paid", "refund_pending"),
        ("paid", "refunded"),
        ("refund_pending", "refunded"),
        # Stripe refused the refund: the money never went back.
        ("refund_pending", "paid"),
    },
    Refund: {
        ("pending", "succeeded"),
        ("pending", "failed"),
        ("failed", "pending"),
    },
    TemplateRequest: {
        ("open", "planned"),
        ("open", "shipped"),
        ("open", "declined"),
        ("planned", "open"),
        ("planned", "shipped"),
        ("planned", "declined"),
        ("declined", "open"),
    },
}
STATUSES = {
    Avatar: ["collecting", "paid", "training", "ready", "failed"],
    Photo: ["accepted", "rejected", "removed"],
    TrainingJob: ["queued", "running", "succeeded", "failed", "cancelled"],
    Order: ["pending", "awaiting_payment", "paid", "expired", "payment_failed", "refund_pending", "refunded"],
    Refund: ["pending", "succeeded", "failed"],
    TemplateRequest: ["open", "planned", "shipped", "declined"],
}
CASES = [(model, old, new) for model, statuses in STATUSES.items() for old in statuses for new in statuses]


@pytest.mark.parametrize("model,old,new", CASES, ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_every_transition_is_allowed_or_refused(model, old, new):
    obj = model(status=old)
    if (old, new) in ALLOWED[model]:
        obj.transition_to(new)
        assert obj.status == new
    else:
        with pytest.raises(InvalidTransition):
            obj.transition_to(new)
        assert obj.status == old


@pytest.mark.parametrize("model", list(STATUSES))
def test_the_statuses_are_the_ones_written_here(model):
    assert [value for value, _ in model.Status.choices] == STATUSES[model]


def test_render_jobs_share_the_training_jobs_lifecycle():
    assert RenderJob.TRANSITIONS == TrainingJob.TRANSITIONS
