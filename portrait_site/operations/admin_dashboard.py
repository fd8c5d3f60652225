"""The operator's dashboard in the admin: thin views over portrait_site.operations.insights."""

from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from avatars.models import JOB_MODELS
from avatars.services import job_retry
from portrait_site.core.pages import refusals_back_to
from portrait_site.operations import insights
from portrait_site.operations.capacity import capacity_for_dashboard


def dashboard(request):
    gpu_days = insights.gpu_minutes_per_day()
    capacity_form, capacity = capacity_for_dashboard(request.GET)
    return TemplateResponse(request, "admin/dashboard.html", {
        **admin.site.each_context(request),
        "title": gettext("Operator's dashboard"),
        "operator_settings_unset": insights.operator_settings_unset(),
        "styles_without_examples": list(insights.template_list_published_without_examples()),
        "money": insights.money_today_and_this_month(),
        "refunds": insights.refund_list_recent(),
        "queue": insights.gpu_queue_now(),
        "capacity_form": capacity_form,
        "capacity": capacity,
        "failures": insights.job_list_failed_recently(),
        "gpu_days": gpu_days,
        "gpu_most_minutes": max((day.total_minutes for day in gpu_days), default=0) or 1,
        "likeness_bands": [label for label, _, _ in insights.LIKENESS_BANDS],
        "templates": insights.template_likeness_figures(),
    })


@require_POST
@refusals_back_to("admin-dashboard")
def job_retry_view(request, kind: str, job_id: int):
    model = JOB_MODELS.get(kind)
    if model is None:
        raise Http404("No such job kind.")
    job = get_object_or_404(model, pk=job_id)
    job_retry(job=job)
    messages.success(request, gettext("%(job)s is queued again.") % {"job": job})
    return redirect("admin-dashboard")
