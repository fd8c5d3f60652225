"""The operator's dashboard: its figures match the database, and outlive the customers they count."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from avatars.models import Avatar, GpuUsage, RenderJob
from avatars.services import gpu_usage_record
from orders.models import Order, Refund
from portrait_site.operations import insights
from portrait_site.privacy.deletion import user_delete_everything
from tests.factories import (
    AvatarFactory,
    OrderFactory,
    PortraitFactory,
    RenderJobFactory,
    StyleTemplateFactory,
    TrainingJobFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def finished_render(avatar, template, kind, likeness, seconds=30.0):
    job = RenderJobFactory(avatar=avatar, template=template, kind=kind, status="succeeded",
                           gpu_seconds=seconds, finished_at=timezone.now())
    PortraitFactory(avatar=avatar, template=template, render_job=job, likeness_score=likeness)
    return gpu_usage_record(job=job)


def test_gpu_time_and_likeness_stay_when_the_customer_deletes_everything():
    user = UserFactory()
    avatar = AvatarFactory(user=user, status=Avatar.Status.READY)
    template = StyleTemplateFactory()
    training = TrainingJobFactory(avatar=avatar, status="succeeded", gpu_seconds=600, finished_at=timezone.now())
    gpu_usage_record(job=training)
    finished_render(avatar, template, RenderJob.Kind.INITIAL, 72.0)

    user_delete_everything(user=user)

    assert not RenderJob.objects.exists()
    assert sorted(GpuUsage.objects.values_list("kind", "gpu_seconds", "likeness_score")) == [
        ("initial", 30.0, 72.0), ("training", 600.0, None),
    ]
    [today] = insights.gpu_minutes_per_day(days=1)
    assert (today.training_minutes, today.render_minutes) == (10.0, 0.5)


def test_the_dashboard_shows_what_the_database_holds(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    now = timezone.now()
    OrderFactory(status=Order.Status.PAID, paid_at=now, amount=990, currency="cny")
    refunded = OrderFactory(status=Order.Status.REFUND_PENDING, paid_at=now, amount=990, currency="cny")
    Refund.objects.create(order=refunded, amount=990, currency="cny", reason="Your portraits did not turn out.")
    OrderFactory(status=Order.Status.PAID, paid_at=now - timedelta(days=40), amount=990, currency="cny")
    avatar = AvatarFactory(status=Avatar.Status.READY)
    template = StyleTemplateFactory(title="Film noir")
    finished_render(avatar, template, RenderJob.Kind.INITIAL, 55.0)
    finished_render(avatar, template, RenderJob.Kind.INITIAL, 85.0)
    finished_render(avatar, template, RenderJob.Kind.REROLL, 75.0)
    RenderJobFactory(avatar=avatar, template=template, status="queued")
    failed = RenderJobFactory(avatar=avatar, template=template, status="failed", finished_at=now,
                              error="CUDA out of memory")

    page = client.get(reverse("admin-dashboard")).content.decode()

    assert "¥19.80" in page and "Your portraits did not turn out." in page and "CUDA out of memory" in page
    [figures] = insights.template_likeness_figures()
    assert (figures.renders, round(figures.likeness_average, 1), figures.reroll_rate) == (3, 71.7, 0.5)
    assert figures.bands == [0, 1, 0, 1, 1, 0]
    assert insights.gpu_queue_now()["render"].waiting == 1
    assert insights.money_today_and_this_month()["today"].orders == 2

    retried = client.post(reverse("admin-dashboard-retry", args=["render", failed.pk]))
    assert retried.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "queued"


def test_only_staff_see_the_dashboard(client):
    client.force_login(UserFactory())
    assert client.get(reverse("admin-dashboard")).status_code == 302
