"""Payment-to-training-start latency, against the broker's own pickup time.

Starts a real `gpu` qcluster on a throw-away SQLite database (the embedded
default), waits until it is warm, then measures, several times each:

- baseline: queue a no-op task on the gpu cluster -> a worker has run it;
- payment: the fulfilment service confirms a paid order -> the training job is
  marked running by the worker (TrainingJob.started_at).

Prints both, and their ratio. Goal: payment to training start <= 2 s.

    .venv/bin/python bench/payment_latency.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACES = ROOT.parent / "shared" / "testdata" / "faces" / "obama"


def configure(folder: Path) -> None:
    # A throwaway site in a temporary folder: its own key (the site refuses to run on none).
    os.environ.setdefault("DJANGO_SECRET_KEY", "likeness-bench-" + secrets.token_urlsafe(40))
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "portrait_site.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "LIKENESS_MEDIA_ROOT": str(folder / "media"),
        "LIKENESS_MIN_PHOTOS": "3",
        "LIKENESS_TRAIN_MAX_SAMPLES": "4",
        "LIKENESS_VALIDATE_EVERY": "0",
        "LIKENESS_CANDIDATES_PER_TEMPLATE": "1",
        "LIKENESS_MAX_REROLLS": "0",
    })
    os.environ.pop("STRIPE_SECRET_KEY", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def wait_for(predicate, timeout: float = 120.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("the worker did not answer in time")


def noop() -> None:
    """The baseline task: nothing but the broker round trip."""


def paid_avatar(user_number: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import User
    from avatars import services
    from orders.services import order_create_for_avatar

    user = User.objects.create_user(f"bench{user_number}@example.com", "bench-password-1")
    avatar = services.avatar_create(user=user)
    for path in sorted(FACES.glob("*.jpg"))[:4]:
        services.photo_add(avatar=avatar, uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()))
    return order_create_for_avatar(user=user, avatar=avatar)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        configure(Path(folder))
        from django.db import connection
        from django_q.models import Success
        from django_q.tasks import async_task

        from avatars.models import TrainingJob
        from orders.services import order_fulfil

        worker_env = {**os.environ, "Q_CLUSTER_NAME": "gpu", "PYTHONPATH": str(ROOT)}
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"], env=worker_env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            # Warm-up: the first task pays for the worker's start and imports.
            async_task("bench.payment_latency.noop", cluster="gpu")
            wait_for(lambda: Success.objects.exists())
            baseline, payment = [], []
            for round_number in range(args.rounds):
                before = Success.objects.count()
                started = time.monotonic()
                async_task("bench.payment_latency.noop", cluster="gpu")
                wait_for(lambda before=before: Success.objects.count() > before)
                baseline.append(time.monotonic() - started)

                order = paid_avatar(round_number)
                connection.close()
                started = time.monotonic()
                order_fulfil(order_id=order.pk, checkout_session_id="", payment_intent_id="", via="bench")
                wait_for(lambda order=order: TrainingJob.objects.filter(order=order, started_at__isnull=False).exists())
                payment.append(time.monotonic() - started)
                # Let the one-step training finish so the next round starts on an idle worker.
                wait_for(lambda: not TrainingJob.objects.filter(status__in=["queued", "running"]).exists())
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    base, pay = statistics.median(baseline), statistics.median(payment)
    print(f"rounds: {args.rounds}")
    print(f"baseline (no-op task queued -> done), median: {base:.3f} s")
    print(f"payment confirmed -> training started, median: {pay:.3f} s (max {max(payment):.3f} s)")
    print(f"ratio payment/baseline: {pay / base:.2f}x")
    print(f"goal <= 2 s: {'met' if pay <= 2.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
