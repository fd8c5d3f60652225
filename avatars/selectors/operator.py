"""What the operator reads of avatars: figures per style template, and which engine the GPU workers run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Avg,
    Count,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from avatars.models import Avatar, Portrait, RenderJob
from styles.models import StyleTemplate


def template_list_with_statistics(queryset: QuerySet[StyleTemplate]) -> QuerySet[StyleTemplate]:
    """The operator's figures per style template (portraits, downloads, likeness, "more like me"
    clicks), one correlated subquery each so joins cannot multiply them."""
    portraits = Portrait.objects.filter(template=OuterRef("pk")).order_by().values("template")
    return queryset.annotate(
        render_count=Coalesce(
            Subquery(portraits.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), Value(0)
        ),
        download_total=Coalesce(
            Subquery(portraits.annotate(n=Sum("download_count")).values("n"), output_field=IntegerField()),
            Value(0),
        ),
        likeness_average=Subquery(portraits.annotate(a=Avg("likeness_score")).values("a")),
        more_like_me_count=Coalesce(
            Subquery(
                RenderJob.objects.filter(template=OuterRef("pk"), kind=RenderJob.Kind.MORE_LIKE_ME)
                .order_by()
                .values("template")
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            Value(0),
        ),
    )


@dataclass(frozen=True)
class EngineReport:
    engine_label: str
    reported_at: datetime
    job_kind: str  # "training" or "rendering"


def engine_report_latest() -> EngineReport | None:
    """Which base model the GPU workers run, as their newest finished job recorded it: the
    engine label of the last trained avatar or the last rendered portrait, whichever is newer.
    None before any job has finished."""
    trained = (
        Avatar.objects.exclude(engine_label="").filter(trained_at__isnull=False)
        .order_by("-trained_at").values_list("engine_label", "trained_at").first()
    )
    rendered = (
        Portrait.objects.exclude(engine_label="").order_by("-created_at")
        .values_list("engine_label", "created_at").first()
    )
    reports = []
    if trained is not None:
        reports.append(EngineReport(*trained, job_kind="training"))
    if rendered is not None:
        reports.append(EngineReport(*rendered, job_kind="rendering"))
    return max(reports, key=lambda report: report.reported_at, default=None)
