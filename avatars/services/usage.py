"""GPU time written down per finished job, with no link to its person, for the operator's figures."""

from __future__ import annotations

from django.db.models import Max
from django.utils import timezone

from avatars.models import GpuUsage, Portrait, RenderJob, TrainingJob


def gpu_usage_record(*, job: TrainingJob | RenderJob) -> GpuUsage:
    """Write down a finished job's GPU time (and a render's likeness) with no link to its person,
    in the caller's transaction: job_mark_succeeded holds the job's row lock."""
    likeness = None
    if isinstance(job, RenderJob):
        kind, template_id = job.kind, job.template_id
        # A style's first render keeps several portraits: its figure is the closest one's.
        likeness = Portrait.objects.filter(render_job=job).aggregate(best=Max("likeness_score"))["best"]
    else:
        kind, template_id = GpuUsage.Kind.TRAINING, None
    finished_at = job.finished_at or timezone.now()
    return GpuUsage.objects.create(
        kind=kind, template_id=template_id, likeness_score=likeness, gpu_seconds=job.gpu_seconds,
        day=timezone.localdate(finished_at), finished_at=finished_at,
    )
