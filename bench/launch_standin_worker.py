"""A GPU worker for bench/launch.py only: the real django-q2 `gpu` cluster, the real job
lifecycle (claim under a row lock, heartbeat, fenced progress, outcome), with a STAND-IN ENGINE
that sleeps instead of training or rendering. It is never part of the product: nothing outside
bench/ imports it, and no setting selects it; the bench starts it as its own program.

    DATABASE_URL=... LAUNCH_TRAINING_SECONDS=6 LAUNCH_RENDER_SECONDS=0.3 \
        Q_CLUSTER_NAME=gpu python bench/launch_standin_worker.py

Durations are the real seconds a job takes (the bench has compressed them already), each drawn
within ±LAUNCH_DURATION_SPREAD of its kind's figure.
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portrait_site.settings")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402

from avatars import services  # noqa: E402
from avatars.gpu import worker  # noqa: E402
from avatars.gpu.job_stages import job_stage  # noqa: E402
from avatars.gpu.jobs import job_lock_own_attempt, job_mark_succeeded  # noqa: E402
from avatars.models import Avatar, RenderJob  # noqa: E402

STANDIN_LABEL = "stand-in engine (bench/launch.py): sleeps, renders nothing"
SPREAD = float(os.environ.get("LAUNCH_DURATION_SPREAD", "0.2"))
SECONDS = {
    "training": float(os.environ.get("LAUNCH_TRAINING_SECONDS", "6")),
    RenderJob.Kind.INITIAL: float(os.environ.get("LAUNCH_RENDER_SECONDS", "0.3")),
    RenderJob.Kind.REROLL: float(os.environ.get("LAUNCH_RENDER_SECONDS", "0.3")),
    RenderJob.Kind.MORE_LIKE_ME: float(os.environ.get("LAUNCH_MORE_LIKE_ME_SECONDS", "0.45")),
    RenderJob.Kind.EXTRA: float(os.environ.get("LAUNCH_RENDER_SECONDS", "0.3")),
}


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (128, 128, 128)).save(out, format="PNG")
    return out.getvalue()


def _sleep_reporting(seconds: float, report, stage: str) -> None:
    began = time.monotonic()
    while (elapsed := time.monotonic() - began) < seconds:
        report(job_stage(stage), 2 + int(93 * elapsed / seconds))
        time.sleep(min(0.2, seconds - elapsed))


def _say_started(job) -> None:
    # One line per attempt in the cluster's log: which worker process runs which job.
    print(f"stand-in: {type(job).__name__} {job.pk} attempt {job.attempts} in process {os.getpid()}", flush=True)


def standin_train(job, report, started: float) -> None:
    _say_started(job)
    _sleep_reporting(SECONDS["training"] * random.uniform(1 - SPREAD, 1 + SPREAD), report, "training")
    with transaction.atomic():
        locked = job_lock_own_attempt(job)
        avatar = Avatar.objects.select_for_update().get(pk=locked.avatar_id)
        services.avatar_mark_trained(avatar=avatar, lora_bytes=b"stand-in", centroid=[0.0],
                                     engine_label=STANDIN_LABEL, engine_family="sd15")
        job_mark_succeeded(locked, started=started)
        for template in avatar.templates.filter(is_published=True):
            services.render_job_create(avatar=avatar, template=template, kind=RenderJob.Kind.INITIAL)


def standin_render(job, report, started: float) -> None:
    _say_started(job)
    _sleep_reporting(SECONDS[job.kind] * random.uniform(1 - SPREAD, 1 + SPREAD), report, "rendering")
    png = _png()
    with transaction.atomic():
        locked = job_lock_own_attempt(job)
        services.portraits_create_for_job(job=locked, engine_label=STANDIN_LABEL, renders=[services.RenderedPortrait(
            png_bytes=png, web_png_bytes=png, seed=random.randrange(2**31), likeness=random.uniform(55, 90),
            parameters={"engine": STANDIN_LABEL}, width=8, height=8,
        )])
        job_mark_succeeded(locked, started=started)


# The GPU task (avatars.tasks.gpu_next_job_run) calls worker.gpu_next_job_execute, which looks
# these two up when it runs: in this program, and the worker processes it forks, they sleep.
worker._train = standin_train
worker._render = standin_render

if __name__ == "__main__":
    from django.core.management import call_command

    call_command("qcluster")
