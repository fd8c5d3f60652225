"""A process killed right after its transaction commits loses no queued work.

Tasks used to be queued in `transaction.on_commit` callbacks: a process that died after the
commit and before its callbacks left a job QUEUED that no worker would ever hear of. Now the
task is queued inside the transaction, on the ORM broker in the same database.
"""

import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django_q.models import OrmQ

from avatars.gpu.jobs import jobs_requeue_lost
from avatars.models import RenderJob
from tests.factories import AvatarFactory, StyleTemplateFactory
from tests.workers import REPO, worker_environment

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# Registered before anything else in the transaction, so it is the first callback to run
# after the commit: the process dies exactly between commit and the on_commit callbacks.
QUEUE_THEN_DIE = textwrap.dedent(
    """
    import os, signal, django
    django.setup()
    from django.db import transaction
    from avatars import services
    from avatars.models import Avatar, RenderJob
    from styles.models import StyleTemplate

    with transaction.atomic():
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
        avatar = Avatar.objects.select_for_update().get(pk={avatar_id})
        services.render_job_create(
            avatar=avatar, template=StyleTemplate.objects.get(pk={template_id}), kind=RenderJob.Kind.EXTRA
        )
    print("not reached", flush=True)
    """
)


def test_a_process_killed_between_commit_and_its_callbacks_still_leaves_the_task_queued(
    transactional_db, private_media
):
    avatar = AvatarFactory(status="ready")
    template = StyleTemplateFactory()
    script = QUEUE_THEN_DIE.format(avatar_id=avatar.pk, template_id=template.pk)

    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
        env=worker_environment(media_root=private_media, overrides={}),
    )

    assert finished.returncode == -9, finished.stderr
    assert "not reached" not in finished.stdout
    job = RenderJob.objects.get(avatar=avatar)
    assert job.status == RenderJob.Status.QUEUED and job.task_id
    [queued] = OrmQ.objects.filter(key="gpu")
    assert (queued.task_id(), queued.task["func"], queued.task["args"]) == (
        job.task_id, "avatars.tasks.gpu_next_job_run", ()
    )
    # Nothing for the lost-task sweep to do: the broker holds the job's task.
    assert jobs_requeue_lost(now=job.queued_at + timedelta(hours=1)) == 0
