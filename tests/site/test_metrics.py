"""/metrics: Prometheus' text format for staff and the scrape token, nothing for strangers."""

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from avatars.models import Avatar, RenderJob
from orders.models import Order, Refund
from tests.factories import AvatarFactory, OrderFactory, RenderJobFactory, TrainingJobFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "a-long-random-scrape-token-0123456789"


def samples(response) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture
def queue():
    avatar = AvatarFactory(status=Avatar.Status.READY)
    TrainingJobFactory(status="queued")
    TrainingJobFactory(status="failed")
    for kind, status in (("initial", "queued"), ("initial", "queued"), ("reroll", "queued"), ("reroll", "running")):
        RenderJobFactory(avatar=avatar, kind=kind, status=status)
    OrderFactory(status=Order.Status.PAID, paid_at=timezone.now(), amount=990, currency="cny")
    refunded = OrderFactory(status=Order.Status.REFUND_PENDING, paid_at=timezone.now(), amount=990, currency="cny")
    Refund.objects.create(order=refunded, amount=990, currency="cny", reason="Avatar training failed")


@override_settings(LIKENESS_METRICS_TOKEN=TOKEN)
def test_staff_and_the_scrape_token_read_the_queue_by_kind(queue):
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))

    for response in (staff.get("/metrics"), Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        figures = samples(response)
        assert figures[("likeness_gpu_jobs_waiting", (("kind", "training"),))] == 1
        assert figures[("likeness_gpu_jobs_waiting", (("kind", "initial"),))] == 2
        assert figures[("likeness_gpu_jobs_waiting", (("kind", RenderJob.Kind.REROLL),))] == 1
        assert figures[("likeness_gpu_jobs_running", (("kind", "reroll"),))] == 1
        assert figures[("likeness_gpu_job_failures_total", (("kind", "training"),))] == 1
        assert figures[("likeness_payments_total", ())] == 2
        assert figures[("likeness_payments_amount_minor_total", (("currency", "cny"),))] == 1980
        assert figures[("likeness_refunds_total", (("status", "pending"),))] == 1
        assert ("likeness_gpu_workers_alive", ()) in figures


@override_settings(LIKENESS_METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize("who", ["anonymous", "customer", "wrong token", "token of another scheme", "customer with a wrong token"])
def test_strangers_are_refused(queue, who):
    client = Client()
    headers = {}
    if who.startswith("customer"):
        client.force_login(UserFactory())
    if "wrong token" in who:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}x"
    if who == "token of another scheme":
        headers["HTTP_AUTHORIZATION"] = f"Token {TOKEN}"

    response = client.get("/metrics", **headers)

    assert response.status_code in (401, 403)
    assert b"likeness_gpu" not in response.content


def test_with_no_token_set_no_bearer_token_opens_it(queue):
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 401
    with override_settings(LIKENESS_METRICS_TOKEN=""):
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 403
