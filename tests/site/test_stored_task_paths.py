"""Every task path Django stores (django-q schedules, the queued GPU turn, the build-failed hook)
names a function that imports: moving code must leave them valid or migrate them."""

import pytest
from django.conf import settings
from django.utils.module_loading import import_string
from django_q.models import Schedule

from avatars.gpu.queue import GPU_NEXT_JOB_TASK

pytestmark = pytest.mark.django_db


def test_every_schedule_the_migrations_created_names_a_function_that_imports():
    funcs = list(Schedule.objects.values_list("func", flat=True))
    assert len(funcs) >= 5  # the stale-job, failed-photos, orphan-media, unpaid-photos and reconcile sweeps
    for func in funcs:
        assert callable(import_string(func)), func


def test_the_task_paths_in_code_and_settings_import():
    for path in (GPU_NEXT_JOB_TASK, settings.LIKENESS_ON_BUILD_FAILED,
                 "avatars.tasks.training_job_run", "avatars.tasks.render_job_run"):
        assert callable(import_string(path)), path
