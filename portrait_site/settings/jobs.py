"""The GPU work: which model the engine trains and renders with, how, and the job queue that runs it."""

from portrait_site.settings.base import env

# --- Engine ---------------------------------------------------------------------
# avatars/engine/base_model.py reads it; `manage.py likeness_model check` tries it.
LIKENESS_BASE_MODEL = env.str("LIKENESS_BASE_MODEL", default="tiny")
LIKENESS_RENDER_MODEL = env.str("LIKENESS_RENDER_MODEL", default="")
LIKENESS_MODEL_FAMILY = env.str("LIKENESS_MODEL_FAMILY", default="")
LIKENESS_MODEL_CONFIG = env.str("LIKENESS_MODEL_CONFIG", default="")
# Pickled checkpoints (.ckpt) can run code when loaded; only for files whose source you trust.
LIKENESS_ALLOW_PICKLE_CHECKPOINTS = env.bool("LIKENESS_ALLOW_PICKLE_CHECKPOINTS", default=False)
LIKENESS_DEVICE = env.str("LIKENESS_DEVICE", default="auto")
LIKENESS_RESOLUTION = env.int("LIKENESS_RESOLUTION", default=0)  # 0: the engine's own default
# Training, to the reference recipes (avatars/engine/training.py gives each anchor figure):
# EasyPhoto trains 800 steps of 4 photos (3,200 samples, rank 128, text encoder too);
# FaceChain about 4,000 samples with UNet and text-encoder LoRAs at rank 32.
LIKENESS_LORA_RANK = env.int("LIKENESS_LORA_RANK", default=32)
LIKENESS_TEXT_ENCODER_LORA_RANK = env.int("LIKENESS_TEXT_ENCODER_LORA_RANK", default=32)
# The tiny engine (random weights, nothing to learn) trains a tenth, so the demo's avatar is
# ready in a minute.
LIKENESS_TRAIN_SAMPLES = env.int("LIKENESS_TRAIN_SAMPLES", default=320 if LIKENESS_BASE_MODEL == "tiny" else 3200)
LIKENESS_TRAIN_MAX_SAMPLES = env.int("LIKENESS_TRAIN_MAX_SAMPLES", default=4000)
LIKENESS_TRAIN_BATCH_SIZE = env.int("LIKENESS_TRAIN_BATCH_SIZE", default=4)
LIKENESS_LEARNING_RATE = env.float("LIKENESS_LEARNING_RATE", default=1e-4)
LIKENESS_TEXT_ENCODER_LEARNING_RATE = env.float("LIKENESS_TEXT_ENCODER_LEARNING_RATE", default=LIKENESS_LEARNING_RATE)
# EasyPhoto validates every 100 steps of 4.
LIKENESS_VALIDATE_EVERY = env.int("LIKENESS_VALIDATE_EVERY", default=400)
LIKENESS_GRADIENT_CHECKPOINTING = {"auto": None, "on": True, "off": False}[
    env.str("LIKENESS_GRADIENT_CHECKPOINTING", default="auto")
]
LIKENESS_TRAINING_OPTIMIZER = env.str("LIKENESS_TRAINING_OPTIMIZER", default="adamw")
# 50 is dlib's same-person threshold (distance 0.6).
LIKENESS_MIN_AVATAR_LIKENESS = env.float("LIKENESS_MIN_AVATAR_LIKENESS", default=50.0)
LIKENESS_CANDIDATES_PER_TEMPLATE = env.int("LIKENESS_CANDIDATES_PER_TEMPLATE", default=2)
# The consumer apps give several portraits per style; a re-roll or "more like me" makes one.
LIKENESS_PORTRAITS_PER_STYLE = env.int("LIKENESS_PORTRAITS_PER_STYLE", default=4)
LIKENESS_MAX_REROLLS = env.int("LIKENESS_MAX_REROLLS", default=2)
LIKENESS_MIN_LIKENESS = env.float("LIKENESS_MIN_LIKENESS", default=55.0)
LIKENESS_EXTRA_RENDERS = env.int("LIKENESS_EXTRA_RENDERS", default=20)
# Later clicks count, so a purchase can't render without limit
# (avatars.services.more_like_me_found_nothing_closer).
LIKENESS_MORE_LIKE_ME_FREE_RETRIES = env.int("LIKENESS_MORE_LIKE_ME_FREE_RETRIES", default=1)
LIKENESS_JOB_MAX_ATTEMPTS = env.int("LIKENESS_JOB_MAX_ATTEMPTS", default=3)
# Written from a thread of its own, so a slow step of the work (loading a model, one long
# render) never silences it (avatars.gpu.jobs.JobHeartbeat).
LIKENESS_HEARTBEAT_SECONDS = env.float("LIKENESS_HEARTBEAT_SECONDS", default=1.0)
# Ten missed beats, so a database that answers slowly for a few seconds takes over no live job.
LIKENESS_HEARTBEAT_STALE_SECONDS = env.float(
    "LIKENESS_HEARTBEAT_STALE_SECONDS", default=10 * LIKENESS_HEARTBEAT_SECONDS
)
# A killed worker's job runs again within about the stale limit plus this, plus the replacement
# worker's start (avatars.gpu.jobs.jobs_sweep_loop).
LIKENESS_STALE_SWEEP_SECONDS = env.float(
    "LIKENESS_STALE_SWEEP_SECONDS", default=LIKENESS_HEARTBEAT_STALE_SECONDS / 2
)
LIKENESS_STALE_CHECKOUT_MINUTES = env.int("LIKENESS_STALE_CHECKOUT_MINUTES", default=30)

# --- Job queue (django-q2) ------------------------------------------------------
# The default cluster does CPU work (email, reconciliation, stale-job sweeps); the
# "gpu" cluster (Q_CLUSTER_NAME=gpu python manage.py qcluster) trains and renders,
# one worker per GPU. The ORM broker keeps a task until it is acknowledged, so a
# worker killed mid-job loses nothing: use it (on PostgreSQL) for GPU machines.
_q_common = {
    "orm": "default",
    "catch_up": False,
    "save_limit": 500,
    "label": "Jobs",
    "ack_failures": True,
    # Our own attempt counter on each job row decides retries; the broker's is off.
    "max_attempts": 1,
}
Q_CLUSTER = {
    **_q_common,
    "name": "default",
    # One of them is the stale-job sweep, looking every few seconds (avatars.gpu.jobs.jobs_sweep_loop).
    "workers": env.int("LIKENESS_CPU_WORKERS", default=3),
    "timeout": 300,
    "retry": 360,
    "poll": 0.5,
    "ALT_CLUSTERS": {
        "gpu": {
            "workers": env.int("LIKENESS_GPU_WORKERS", default=1),
            "timeout": env.int("LIKENESS_GPU_TIMEOUT", default=3600),
            "retry": env.int("LIKENESS_GPU_TIMEOUT", default=3600) + 60,
            "recycle": 1000,
            "poll": 0.5,
        },
    },
}
LIKENESS_RUN_JOBS_INLINE = env.bool("LIKENESS_RUN_JOBS_INLINE", default=False)
# The dashboard and /metrics say how many GPUs keep the wait under it (portrait_site.operations.capacity).
LIKENESS_TARGET_WAIT_MINUTES = env.float("LIKENESS_TARGET_WAIT_MINUTES", default=10.0)
LIKENESS_METRICS_TOKEN = env.str("LIKENESS_METRICS_TOKEN", default="")
# Tasks are queued in the job's own transaction, so this only catches a broker purged by hand
# or a task lost some other way.
LIKENESS_QUEUED_TASK_GRACE_SECONDS = env.int("LIKENESS_QUEUED_TASK_GRACE_SECONDS", default=120)
# The waits told count the work still to come at the pace it came over this window: long enough
# to ride out a lull, short enough to see the end of a launch's wave (avatars.gpu.estimates).
LIKENESS_ARRIVALS_WINDOW_SECONDS = env.float("LIKENESS_ARRIVALS_WINDOW_SECONDS", default=600)
# What hears of a build that failed for good, with the avatar's id: the one place that wires
# avatars to orders (avatars imports nothing of orders). Orders refunds the payment.
LIKENESS_ON_BUILD_FAILED = "orders.tasks.order_refund_failed_build"
