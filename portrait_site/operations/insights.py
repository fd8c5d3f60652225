"""The operator's figures for the admin's dashboard: money, the queue, failures, GPU time, likeness.

Reads only. GPU time and likeness come from avatars.GpuUsage, which names no person, so the
figures stay when a customer deletes everything; money comes from orders, which outlive
their user too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Avg, Count, Exists, Min, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from avatars.models import GpuJob, GpuUsage, RenderJob, TrainingJob
from orders.models import Order, Refund
from styles.models import StyleExample, StyleTemplate

# The likeness bands of the distribution, in points out of 100: (label, low, high).
LIKENESS_BANDS = [(_("under 50"), 0, 50), ("50–60", 50, 60), ("60–70", 60, 70), ("70–80", 70, 80),
                  ("80–90", 80, 90), ("90+", 90, 101)]
RENDER_KINDS = [kind for kind in GpuUsage.Kind.values if kind != GpuUsage.Kind.TRAINING]


@dataclass
class MoneyFigures:
    orders: int
    # {currency: minor units}: amounts in different currencies are never added together.
    revenue: dict[str, int]
    refunded: dict[str, int]


def _money_since(start: datetime) -> MoneyFigures:
    paid = Order.objects.filter(status__in=Order.PAID_STATUSES, paid_at__gte=start)
    refunds = Refund.objects.filter(created_at__gte=start).exclude(status=Refund.Status.FAILED)
    return MoneyFigures(
        orders=paid.count(),
        revenue=dict(paid.values_list("currency").annotate(total=Sum("amount")).order_by("currency")),
        refunded=dict(refunds.values_list("currency").annotate(total=Sum("amount")).order_by("currency")),
    )


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def money_today_and_this_month(*, now: datetime | None = None) -> dict[str, MoneyFigures]:
    today = timezone.localdate(now or timezone.now())
    return {
        "today": _money_since(_start_of(today)),
        "this_month": _money_since(_start_of(today.replace(day=1))),
    }


def operator_settings_unset() -> list[str]:
    """The settings naming the operator that still hold a placeholder: the terms and the privacy
    notice show them to customers, who must be able to tell who runs the site and reach them."""
    unset = []
    if not settings.LIKENESS_OPERATOR_NAME.strip():
        unset.append("LIKENESS_OPERATOR_NAME")
    if settings.LIKENESS_OPERATOR_CONTACT.strip() in ("", settings.LIKENESS_OPERATOR_CONTACT_PLACEHOLDER):
        unset.append("LIKENESS_OPERATOR_CONTACT")
    return unset


def template_list_published_without_examples():
    """Published styles whose page has no example result to judge them by."""
    return (
        StyleTemplate.objects.filter(is_published=True)
        .exclude(Exists(StyleExample.objects.filter(template=OuterRef("pk"))))
        .order_by("sort_order", "title")
    )


def refund_list_recent(*, limit: int = 20):
    return Refund.objects.select_related("order").order_by("-created_at")[:limit]


@dataclass
class QueueFigures:
    waiting: int
    running: int
    oldest_wait_seconds: int | None


def gpu_queue_now(*, now: datetime | None = None) -> dict[str, QueueFigures]:
    now = now or timezone.now()
    figures = {}
    for name, model in (("training", TrainingJob), ("render", RenderJob)):
        counts = model.objects.aggregate(
            waiting=Count("pk", filter=Q(status=GpuJob.Status.QUEUED)),
            running=Count("pk", filter=Q(status=GpuJob.Status.RUNNING)),
            oldest=Min("queued_at", filter=Q(status=GpuJob.Status.QUEUED)),
        )
        oldest = counts["oldest"]
        figures[name] = QueueFigures(
            waiting=counts["waiting"], running=counts["running"],
            oldest_wait_seconds=int((now - oldest).total_seconds()) if oldest else None,
        )
    return figures


def job_list_failed_recently(*, now: datetime | None = None, hours: int = 24) -> list[TrainingJob | RenderJob]:
    """Jobs that failed for good in the last `hours`, newest first, training and renders together."""
    since = (now or timezone.now()) - timedelta(hours=hours)
    failed = Q(status=GpuJob.Status.FAILED, finished_at__gte=since)
    jobs = [*TrainingJob.objects.filter(failed).select_related("avatar"),
            *RenderJob.objects.filter(failed).select_related("avatar", "template")]
    return sorted(jobs, key=lambda job: job.finished_at, reverse=True)


@dataclass
class GpuDay:
    day: date
    training_minutes: float
    render_minutes: float

    @property
    def total_minutes(self) -> float:
        return self.training_minutes + self.render_minutes


def gpu_minutes_per_day(*, days: int = 14, now: datetime | None = None) -> list[GpuDay]:
    """GPU minutes of finished jobs for each of the last `days` days, oldest first, empty days included."""
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=days - 1)
    rows = (
        GpuUsage.objects.filter(day__gte=first)
        .values("day")
        .annotate(
            training=Coalesce(Sum("gpu_seconds", filter=Q(kind=GpuUsage.Kind.TRAINING)), 0.0),
            render=Coalesce(Sum("gpu_seconds", filter=~Q(kind=GpuUsage.Kind.TRAINING)), 0.0),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    return [
        GpuDay(day=day, training_minutes=by_day.get(day, {}).get("training", 0.0) / 60,
               render_minutes=by_day.get(day, {}).get("render", 0.0) / 60)
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]


@dataclass
class TemplateLikeness:
    template: StyleTemplate
    renders: int
    likeness_average: float | None
    # How many renders fall in each of LIKENESS_BANDS, in order.
    bands: list[int]
    rerolls: int
    first_renders: int

    @property
    def reroll_rate(self) -> float | None:
        """Re-rolls asked for per first portrait rendered in the template."""
        return self.rerolls / self.first_renders if self.first_renders else None


def template_likeness_figures() -> list[TemplateLikeness]:
    """Per template: renders, average likeness, the likeness distribution and the re-roll rate."""
    band_counts = {
        f"band_{index}": Count("pk", filter=Q(likeness_score__gte=low, likeness_score__lt=high))
        for index, (_, low, high) in enumerate(LIKENESS_BANDS)
    }
    rows = (
        GpuUsage.objects.filter(kind__in=RENDER_KINDS, template__isnull=False)
        .values("template")
        .annotate(
            renders=Count("pk"), likeness_average=Avg("likeness_score"),
            rerolls=Count("pk", filter=Q(kind=GpuUsage.Kind.REROLL)),
            first_renders=Count("pk", filter=Q(kind=GpuUsage.Kind.INITIAL)),
            **band_counts,
        )
        .order_by()
    )
    templates = StyleTemplate.objects.in_bulk([row["template"] for row in rows])
    figures = [
        TemplateLikeness(
            template=templates[row["template"]], renders=row["renders"], likeness_average=row["likeness_average"],
            bands=[row[f"band_{index}"] for index in range(len(LIKENESS_BANDS))],
            rerolls=row["rerolls"], first_renders=row["first_renders"],
        )
        for row in rows
    ]
    return sorted(figures, key=lambda figure: (figure.template.sort_order, figure.template.title))
