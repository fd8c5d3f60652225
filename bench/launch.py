"""Launch day, simulated: thousands of customers and a thousand paid avatars over an hour, on
PostgreSQL + Redis, with several real django-q2 GPU worker processes running a stand-in engine.

The hour is compressed by --compress (60: a simulated hour passes in a minute); training and
render durations are given in simulated time and compressed the same way. The GPU workers are
real `gpu` qclusters (bench/launch_standin_worker.py: the real job lifecycle, an engine that
sleeps), one worker each, all on one PostgreSQL; a `default` cluster runs the stale-job sweep.
Paid avatars arrive at random (a Poisson process) over the hour; each is trained, then renders
its first portraits; a customer who sees them asks for re-rolls and "more like me". Every
customer with work under way polls the progress endpoint as the page does (every 2 s of real
time, sending back the ETag), as often as this one process manages. With --kill-worker one GPU
worker is SIGKILLed mid-job at half time and replaced.

It prints, each next to its goal:
  waits per kind of job (p50, p95), in simulated minutes;
  first work behind re-rolls: trainings or first portraits that waited while a re-roll started;
  the estimate error: each number a poll showed against the wait that followed (p50, p90),
    and signed (shown / real - 1) by kind of job, by jobs ahead and by the real wait;
  the poll's cost (ms in this process, and its database queries);
  errors; jobs run twice, lost, or not done; the killed worker's job.

    .venv/bin/python bench/launch.py --quick                    # about two minutes on 2 cores
    .venv/bin/python bench/launch.py --customers 3000 --paid 1000 --gpu-workers 8 --compress 30
    .venv/bin/python bench/launch.py --customers 3000 --paid 1000 --templates 2 --gpu-workers 16 \
        --compress 10 --training-minutes 0.33 --render-seconds 5 --deadline 560   # the issue's size in ~9 min

--show-basis prints, every 10 s, what the estimates are told from (workers, pick-up, typical
durations, the arrivals they play forward).

It creates a database of its own (--database-name, default likeness_launch) on --postgres and
drops it at the end; everything it starts stops by itself (--deadline seconds at most).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.launch_report import Customer, Figures, report  # noqa: E402

POLL_INTERVAL_SECONDS = 2.0


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--database-name", default="likeness_launch")
    parser.add_argument("--customers", type=int, default=3000, help="people who arrive (most never pay)")
    parser.add_argument("--paid", type=int, default=1000, help="avatars paid for over the hour")
    parser.add_argument("--templates", type=int, default=4, help="first portraits per avatar")
    parser.add_argument("--gpu-workers", type=int, default=8)
    parser.add_argument("--compress", type=float, default=30.0, help="simulated seconds per real second")
    parser.add_argument("--training-minutes", type=float, default=8.0, help="simulated, per avatar")
    parser.add_argument("--render-seconds", type=float, default=20.0, help="simulated, per portrait")
    parser.add_argument("--rerolls", type=float, default=1.5, help="re-rolls + 'more like me' per paid customer, mean")
    parser.add_argument("--kill-worker", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--deadline", type=float, default=900.0, help="real seconds before it stops anyway")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--show-basis", action="store_true", help="print what the estimates are told from every 10 s")
    parser.add_argument("--drop-templates", action="store_true", help="migrate the template database afresh")
    parser.add_argument("--quick", action="store_true",
                        help="a small launch that finishes in about two minutes on 2 shared cores")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.paid, args.templates, args.gpu_workers = 300, 36, 2, 3
        args.compress, args.training_minutes, args.render_seconds, args.rerolls = 60.0, 4.0, 15.0, 1.5
        args.deadline = 240.0
    return args


def database_url(server: str, name: str) -> str:
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{name}"))


def psql(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(sql)


def start_cluster(name: str, env: dict, log_dir: Path) -> subprocess.Popen:
    cluster = name.split("-")[0]
    command = ([sys.executable, str(ROOT / "bench" / "launch_standin_worker.py")] if cluster == "gpu"
               else [sys.executable, "manage.py", "qcluster"])
    process_env = {**env, **({"Q_CLUSTER_NAME": "gpu"} if cluster == "gpu" else {})}
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 (kept open for the process)
    return subprocess.Popen(command, cwd=ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_cluster(process: subprocess.Popen, *, kill: bool = False) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever it forked and left behind
    except ProcessLookupError:
        pass


def main() -> int:
    args = arguments()
    random.seed(args.seed)
    hour = 3600.0 / args.compress
    training_real = args.training_minutes * 60 / args.compress
    render_real = args.render_seconds / args.compress
    url = database_url(args.postgres, args.database_name)
    media = Path(tempfile.mkdtemp(prefix="likeness-launch-"))
    # The site refuses to run without DEBUG on no key: the simulation's own databases get a key of their own.
    os.environ.setdefault("DJANGO_SECRET_KEY", "likeness-launch-" + secrets.token_urlsafe(40))
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "portrait_site.settings", "DATABASE_URL": url,
        "REDIS_URL": args.redis_url, "LIKENESS_MEDIA_ROOT": str(media), "LIKENESS_RUN_JOBS_INLINE": "false",
        "LIKENESS_GPU_WORKERS": "1", "LIKENESS_CPU_WORKERS": "2", "PYTHONUNBUFFERED": "1",
"LAUNCH_TRAINING_SECONDS": str(training_real),
        "LAUNCH_RENDER_SECONDS": str(render_real), "LAUNCH_MORE_LIKE_ME_SECONDS": str(render_real * 1.5),
        "LIKENESS_EXTRA_RENDERS": "1000", "DJANGO_DEBUG": "false",
        # The sweep's grace for a waiting job with no task is two minutes of real time; in a
        # compressed hour, a few seconds.
        "LIKENESS_QUEUED_TASK_GRACE_SECONDS": str(max(5, round(120 / args.compress))),
        # The estimates' ten minutes of arrivals, compressed like the hour: uncompressed, the
        # window would span the whole launch and never see its wave end.
        "LIKENESS_ARRIVALS_WINDOW_SECONDS": str(600 / args.compress),
    }
    print(f"Launch: {args.customers} customers, {args.paid} paid avatars over a simulated hour "
          f"({hour:.0f} s real, x{args.compress:g}); {args.gpu_workers} GPU worker processes; training "
          f"{args.training_minutes:g} min, renders {args.render_seconds:g} s (simulated); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    # A SIGTERM (a timeout, Ctrl-C's cousin) still stops the workers and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    template = migrated_template(args, env)
    psql(args.postgres, f'DROP DATABASE IF EXISTS "{args.database_name}"')
    psql(args.postgres, f'CREATE DATABASE "{args.database_name}" TEMPLATE "{template}"')
    print(f"  database ready in {time.monotonic() - began:.0f} s (from {template})", flush=True)
    clusters: dict[str, subprocess.Popen] = {}
    try:
        os.environ.update({key: value for key, value in env.items() if isinstance(value, str)})
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        customers = seed(args, hour)
        log_dir = media / "logs"
        log_dir.mkdir()
        clusters["default"] = start_cluster("default", env, log_dir)
        for index in range(args.gpu_workers):
            clusters[f"gpu-{index}"] = start_cluster(f"gpu-{index}", env, log_dir)
        figures = simulate(args, customers, clusters, env, log_dir, hour)
    finally:
        for process in clusters.values():
            stop_cluster(process)
    try:
        report(args, figures, customers, hour)
    finally:
        from django.db import connections

        connections.close_all()
        psql(args.postgres, f'DROP DATABASE IF EXISTS "{args.database_name}" WITH (FORCE)')
    return 0


def migrated_template(args, env: dict) -> str:
    """A database migrated to this code's migrations, kept between runs as the template each run
    copies (migrating takes a minute on two shared cores; copying, a second). Its name carries a
    digest of the migration files, so a new migration makes a new one; --drop-templates removes them."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/0*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    name = f"{args.database_name}_migrated_{digest.hexdigest()[:10]}"
    import psycopg

    with psycopg.connect(args.postgres, autocommit=True) as connection:
        existing = [row[0] for row in connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{args.database_name}_migrated_%"])]
    for stale in existing:
        if stale != name or args.drop_templates:
            psql(args.postgres, f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
    if name in existing and not args.drop_templates:
        return name
    psql(args.postgres, f'CREATE DATABASE "{name}"')
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT,
                       env={**env, "DATABASE_URL": database_url(args.postgres, name)}, check=True)
    except BaseException:
        psql(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise
    return name


def seed(args, hour: float) -> list[Customer]:
    """The catalogue and every customer, with the arrival time of each paid avatar."""
    from accounts.models import User
    from avatars.models import Avatar
    from styles.models import StyleTemplate

    templates = [
        StyleTemplate.objects.create(slug=f"launch-{index}", title=f"Launch style {index}", prompt="a portrait of {subject}",
                                     is_published=True, sort_order=index)
        for index in range(args.templates)
    ]
    users = User.objects.bulk_create([User(email=f"launch-{index}@example.com", is_active=True)
                                      for index in range(args.customers)])
    paying = set(random.sample(range(args.customers), min(args.paid, args.customers)))
    avatars = Avatar.objects.bulk_create([Avatar(user=user, name="Launch") for user in users])
    Avatar.templates.through.objects.bulk_create([
        Avatar.templates.through(avatar_id=avatar.pk, styletemplate_id=template.pk)
        for index, avatar in enumerate(avatars) if index in paying for template in templates
    ])
    arrival, customers = 0.0, []
    for index, (user, avatar) in enumerate(zip(users, avatars, strict=True)):
        paid = index in paying
        if paid:
            arrival += random.expovariate(len(paying) / hour)
        more = random.random() * 2 * args.rerolls if paid else 0
        customers.append(Customer(
            user_id=user.pk, avatar_id=avatar.pk, public_id=str(avatar.public_id), arrives_at=arrival if paid else 0.0,
            paid=paid, rerolls_wanted=int(round(more * 0.6)), more_like_me_wanted=int(round(more * 0.4)),
        ))
    return [customer for customer in customers if customer.paid]


def pay(customer: Customer) -> None:
    from django.db import transaction
    from django.utils import timezone

    from avatars.models import Avatar
    from avatars.services import training_job_create_for_order
    from orders.models import Order

    with transaction.atomic():
        avatar = Avatar.objects.get(pk=customer.avatar_id)
        order = Order.objects.create(user_id=customer.user_id, avatar=avatar, amount=990, currency="cny",
                                     status=Order.Status.PAID, paid_at=timezone.now())
        training_job_create_for_order(order=order)


def ask_for_more(customer: Customer) -> None:
    from django.db import transaction

    from avatars.models import Portrait, RenderJob
    from avatars.services import render_job_create

    with transaction.atomic():
        portraits = list(Portrait.objects.filter(avatar_id=customer.avatar_id).select_related("template", "avatar"))
        for index in range(customer.rerolls_wanted + customer.more_like_me_wanted):
            source = portraits[index % len(portraits)]
            more_like_me = index >= customer.rerolls_wanted
            render_job_create(avatar=source.avatar, template=source.template,
                              kind=RenderJob.Kind.MORE_LIKE_ME if more_like_me else RenderJob.Kind.REROLL,
                              source_portrait=source if more_like_me else None)


def poll(customer: Customer, figures: Figures, now: float) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if customer.client is None:
        from accounts.models import User

        customer.client = Client()
        customer.client.force_login(User.objects.get(pk=customer.user_id))
    headers = {"HTTP_IF_NONE_MATCH": customer.etag} if customer.etag else {}
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        response = customer.client.get(f"/avatars/{customer.public_id}/progress.json", **headers)
        figures.poll_ms.append((time.perf_counter() - began) * 1000)
    figures.poll_queries.append(len(queries))
    if response.status_code == 304:
        figures.polls_304 += 1
        return
    if response.status_code != 200:
        figures.errors.append(f"poll HTTP {response.status_code}")
        return
    customer.etag = response.get("ETag", "")
    data = response.json()
    # The jobs come in avatar_progress's order: its latest training, then its renders as queued.
    ids = job_ids_as_shown(customer.avatar_id)
    for job, (table, job_id) in zip(data["jobs"], ids, strict=False):
        if job["status"] == "queued":
            figures.polls_waiting += 1
            if job["wait_seconds"] is not None:
                figures.polls_with_number += 1
                figures.shown.append((table, job_id, now, job["wait_seconds"], job["queue_position"]))
    if data["done"] and not customer.asked_more:
        customer.asked_more = True
        if customer.rerolls_wanted + customer.more_like_me_wanted:
            ask_for_more(customer)
            customer.etag = ""
        else:
            customer.done = True
    elif data["done"] or data["failed"]:
        customer.done = True


def job_ids_as_shown(avatar_id: int) -> list[tuple[str, int]]:
    from avatars.models import RenderJob, TrainingJob

    training = TrainingJob.objects.filter(avatar_id=avatar_id).order_by("-queued_at", "-pk").values_list("pk", flat=True)[:1]
    renders = RenderJob.objects.filter(avatar_id=avatar_id).order_by("queued_at", "pk").values_list("pk", flat=True)
    return [("training", pk) for pk in training] + [("render", pk) for pk in renders]


def estimate_basis() -> str:
    """What the waits shown now are told from: workers, pick-up, durations, arrivals."""
    from avatars.gpu import estimates

    typical = estimates.job_kind_typical_seconds()
    workers = estimates.gpu_workers_alive()
    pickup = estimates.gpu_pickup_seconds()
    streams = estimates.gpu_arrival_streams(typical=typical)
    return (f"{workers} workers, pick-up {pickup:.2f} s, typical " + ", ".join(f"{k} {v:.2f}" for k, v in typical.items())
            + " s; arriving: " + ", ".join(f"class {s.queue_class} every {s.every_seconds:.2f} s" for s in streams))


def simulate(args, customers, clusters, env, log_dir, hour) -> Figures:
    """Arrivals, re-rolls and polls until every paid avatar's work is done (or the deadline)."""
    from avatars.models import GpuJob, RenderJob, TrainingJob

    figures = Figures()
    start = time.time()
    deadline = start + args.deadline
    pending = sorted(customers, key=lambda customer: customer.arrives_at)
    arrived: list[Customer] = []
    killed = False
    at_kill: set[tuple[str, int]] = set()
    next_basis_at = 0.0
    while time.time() < deadline:
        now = time.time() - start
        while pending and pending[0].arrives_at <= now:
            customer = pending.pop(0)
            pay(customer)
            customer.next_poll_at = now
            arrived.append(customer)
        if args.kill_worker and not killed and now > hour / 2:
            busy = RenderJob.objects.filter(status=GpuJob.Status.RUNNING).count() + \
                TrainingJob.objects.filter(status=GpuJob.Status.RUNNING).count()
            if busy >= args.gpu_workers:
                # Every worker is mid-job, so the one killed is too: its job is the one that comes
                # back for a second attempt.
                killed = True
                figures.killed_job = ("any", 0)
                at_kill = {("render", pk) for pk in RenderJob.objects.filter(status=GpuJob.Status.RUNNING).values_list("pk", flat=True)}
                at_kill |= {("training", pk) for pk in TrainingJob.objects.filter(status=GpuJob.Status.RUNNING).values_list("pk", flat=True)}
                victim = next(name for name in clusters if name.startswith("gpu"))
                stop_cluster(clusters.pop(victim), kill=True)
                clusters[f"{victim}-replacement"] = start_cluster(f"{victim}-replacement", env, log_dir)
                print(f"  {now:.0f} s: killed {victim} (SIGKILL) with every worker mid-job; a replacement started",
                      flush=True)
        # When each job running at the kill is requeued: the killed one waits from then on.
        for table, pk in at_kill - figures.requeued_at.keys():
            model = TrainingJob if table == "training" else RenderJob
            if model.objects.filter(pk=pk, status=GpuJob.Status.QUEUED).exists():
                figures.requeued_at[(table, pk)] = time.time()
        if args.show_basis and now >= next_basis_at:
            next_basis_at = now + 10
            print(f"  {now:.0f} s: {estimate_basis()}", flush=True)
        due = [customer for customer in arrived if not customer.done and customer.next_poll_at <= now]
        for customer in due:
            poll(customer, figures, time.time() - start)
            customer.next_poll_at = time.time() - start + POLL_INTERVAL_SECONDS
        if not pending and arrived and all(customer.done for customer in arrived):
            break
        if not due:
            time.sleep(0.05)
    figures.elapsed = time.time() - start
    figures.start = start
    return figures


if __name__ == "__main__":
    sys.exit(main())
