import pytest

from avatars.models import Avatar, GpuJob, Photo, TrainingJob
from orders.models import Order, Refund
from portrait_site.status import InvalidTransition
from styles.models import TemplateRequest

MODELS = [Avatar, Photo, TrainingJob, Order, Refund, TemplateRequest]


def all_pairs(model):
    statuses = [value for value, _ in model.Status.choices]
    return [(model, old, new) for old in statuses for new in statuses]


@pytest.mark.parametrize(
    "model,old,new", [pair for model in MODELS for pair in all_pairs(model)],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_every_transition_is_allowed_or_refused_as_listed(model, old, new):
    obj = model(status=old)
    allowed = new in model.TRANSITIONS.get(old, set())
    if allowed:
        obj.transition_to(new)
        assert obj.status == new
    else:
        with pytest.raises(InvalidTransition):
            obj.transition_to(new)
        assert obj.status == old


@pytest.mark.parametrize("model", MODELS)
def test_every_status_has_a_transition_entry(model):
    assert set(model.TRANSITIONS) == {value for value, _ in model.Status.choices}


def test_paid_order_never_goes_back_to_pending_or_awaiting_payment():
    assert Order.Status.PENDING not in Order.TRANSITIONS[Order.Status.PAID]
    assert Order.Status.AWAITING_PAYMENT not in Order.TRANSITIONS[Order.Status.PAID]


def test_finished_jobs_are_final():
    assert GpuJob.TRANSITIONS[GpuJob.Status.SUCCEEDED] == set()
