"""/metrics: the queue, the GPUs, failures and money, in Prometheus' text format.

Read from the database at scrape time by one custom collector (prometheus-client's pattern for
figures another system holds), so every web process answers the same and a restart loses
nothing. Counters are counts of rows: a customer's deletion can lower one, which Prometheus
reads as a counter reset.

Only staff (signed in) or a scraper with LIKENESS_METRICS_TOKEN as its bearer token see it.
"""

from __future__ import annotations

import hmac
import math

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from avatars.gpu.estimates import TRAINING_KIND, gpu_workers_alive
from avatars.models import GpuJob, RenderJob, TrainingJob
from orders.models import Order, Refund
from portrait_site.operations.capacity import WINDOW, capacity_figures, operator_target_wait_seconds

WAIT_QUANTILES = (0.5, 0.95)


def _jobs_by_kind():
    """Per kind of job: waiting, running, failed for good, and when the oldest waiting one was queued."""
    counts = {
        "waiting": Count("pk", filter=Q(status=GpuJob.Status.QUEUED)),
        "running": Count("pk", filter=Q(status=GpuJob.Status.RUNNING)),
        "failed": Count("pk", filter=Q(status=GpuJob.Status.FAILED)),
        "oldest": Min("queued_at", filter=Q(status=GpuJob.Status.QUEUED)),
    }
    rows = {TRAINING_KIND: TrainingJob.objects.aggregate(**counts)}
    for row in RenderJob.objects.values("kind").annotate(**counts).order_by():
        rows[row.pop("kind")] = row
    for kind in [TRAINING_KIND, *RenderJob.Kind.values]:
        rows.setdefault(kind, {"waiting": 0, "running": 0, "failed": 0, "oldest": None})
    return rows


def _recent_waits(now) -> dict[str, list[float]]:
    """Per kind, how long each job that a worker took in the last hour had waited."""
    waits: dict[str, list[float]] = {}
    for model in (TrainingJob, RenderJob):
        columns = ["queued_at", "started_at", *(["kind"] if model is RenderJob else [])]
        for queued_at, started_at, *kind in model.objects.filter(started_at__gte=now - WINDOW).values_list(*columns):
            waits.setdefault(kind[0] if kind else TRAINING_KIND, []).append((started_at - queued_at).total_seconds())
    return waits


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class LikenessCollector(Collector):
    def collect(self):
        now = timezone.now()
        jobs = _jobs_by_kind()
        waiting = GaugeMetricFamily("likeness_gpu_jobs_waiting", "GPU jobs waiting for a worker.", labels=["kind"])
        running = GaugeMetricFamily("likeness_gpu_jobs_running", "GPU jobs a worker runs now.", labels=["kind"])
        oldest = GaugeMetricFamily(
            "likeness_gpu_oldest_wait_seconds", "How long the oldest waiting job has waited.", labels=["kind"]
        )
        failures = CounterMetricFamily(
            "likeness_gpu_job_failures", "GPU jobs that failed for good (every attempt).", labels=["kind"]
        )
        for kind, row in jobs.items():
            waiting.add_metric([kind], row["waiting"])
            running.add_metric([kind], row["running"])
            failures.add_metric([kind], row["failed"])
            oldest.add_metric([kind], (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0)
        yield from (waiting, running, oldest, failures)

        waits = GaugeMetricFamily(
            "likeness_gpu_job_wait_seconds", "Waits of the jobs workers took in the last hour, by quantile.",
            labels=["kind", "quantile"],
        )
        for kind, values in sorted(_recent_waits(now).items()):
            for q in WAIT_QUANTILES:
                waits.add_metric([kind, str(q)], _quantile(values, q))
        yield waits
        yield GaugeMetricFamily(
            "likeness_gpu_workers_alive", "GPU workers seen running jobs in the last minute.",
            value=gpu_workers_alive(now=now),
        )

        capacity = capacity_figures(target_wait_seconds=operator_target_wait_seconds(), now=now)
        if capacity.wait_seconds is not None:
            yield GaugeMetricFamily(
                "likeness_capacity_wait_seconds", "How long a job arriving now waits with the GPUs working now.",
                value=capacity.wait_seconds,
            )
        if capacity.gpus_for_target is not None:
            yield GaugeMetricFamily(
                "likeness_capacity_gpus_for_target",
                "The fewest GPUs that keep the wait under LIKENESS_TARGET_WAIT_MINUTES (the autoscaler's figure).",
                value=capacity.gpus_for_target,
            )
        yield GaugeMetricFamily(
            "likeness_capacity_offered_load", "GPUs' worth of work arriving, over the last hour.",
            value=capacity.offered_load,
        )

        payments = CounterMetricFamily("likeness_payments", "Orders paid (refunded later or not).")
        payments.add_metric([], Order.objects.filter(status__in=Order.PAID_STATUSES).count())
        paid = CounterMetricFamily(
            "likeness_payments_amount_minor", "Money paid, in the currency's minor unit.", labels=["currency"]
        )
        for currency, total in Order.objects.filter(status__in=Order.PAID_STATUSES).values_list("currency").annotate(
            total=Sum("amount")
        ).order_by("currency"):
            paid.add_metric([currency], total)
        refunds = CounterMetricFamily("likeness_refunds", "Refunds, by their state.", labels=["status"])
        by_status = dict(Refund.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in Refund.Status.values:
            refunds.add_metric([status], by_status.get(status, 0))
        refunded = CounterMetricFamily(
            "likeness_refunded_amount_minor", "Money refunded or being refunded, in the currency's minor unit.",
            labels=["currency"],
        )
        for currency, total in Refund.objects.exclude(status=Refund.Status.FAILED).values_list("currency").annotate(
            total=Sum("amount")
        ).order_by("currency"):
            refunded.add_metric([currency], total)
        yield from (payments, paid, refunds, refunded)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LikenessCollector())
    return registry


def _bearer_token(request) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def metrics_reader_allowed(request) -> bool:
    """Staff signed in, or the scrape token (compared in constant time; none set: none works)."""
    token, expected = _bearer_token(request), settings.LIKENESS_METRICS_TOKEN
    if token is not None:
        return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())
    return request.user.is_authenticated and request.user.is_staff


@never_cache
@require_GET
def metrics(request):
    if not metrics_reader_allowed(request):
        response = HttpResponse("Staff or the metrics token only.\n", status=403, content_type="text/plain")
        if _bearer_token(request) is None and not request.user.is_authenticated:
            response.status_code = 401
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
