"""The harness itself: real workers see the live server's test database and media folder."""

import pytest
from django_q.models import Task
from django_q.tasks import async_task

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_real_workers_run_jobs_against_the_test_database_and_media(q_workers, private_media, wait_until):
    default_id = async_task("math.floor", 1.5)
    gpu_id = async_task("math.ceil", 1.5, cluster="gpu")
    async_task("pathlib.Path.write_text", private_media / "from-worker.txt", "hello")

    default_task = wait_until(lambda: Task.objects.filter(id=default_id).first(), message="the default job")
    gpu_task = wait_until(lambda: Task.objects.filter(id=gpu_id).first(), message="the gpu job")

    assert (default_task.success, default_task.result) == (True, 1)
    assert (gpu_task.success, gpu_task.result) == (True, 2)
    assert wait_until(lambda: (private_media / "from-worker.txt").exists(), message="the worker's file")
