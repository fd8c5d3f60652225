"""Likeness settings, read from the environment.

Every variable has an embedded default, so a fresh checkout runs with none set:
SQLite, the django-q2 ORM broker, private media under var/, console email and
the tiny engine. The README's configuration table says what each variable does; the comments
here say only why a value or an order is as it is.
"""

import os
from pathlib import Path

import environ

# Files this process writes are its own: selfies, LoRA weights, portraits, the SQLite database
# and the var/ folders are read by no other account on the host. Set before anything below
# creates a folder; storage's own writes say the same with FILE_UPLOAD_*PERMISSIONS.
os.umask(0o077)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# The embedded default's files: database, private media, static files, mail, logs (scripts/run.sh).
VAR_DIR = Path(env.str("LIKENESS_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Public, since it is written here: anyone holding it can forge a session cookie or a password
# reset link. Only a DEBUG site on a developer's own machine may use it; scripts/run.sh writes a
# random key of its own into var/secret-key and passes it in.
BUILT_IN_SECRET_KEY = "django-insecure-likeness-embedded-default-key"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or (BUILT_IN_SECRET_KEY if DEBUG else "")
if not DEBUG and SECRET_KEY in ("", BUILT_IN_SECRET_KEY):
    raise environ.ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set, or is the built-in key, which is public: anyone could sign in as "
        "any account. Set it to a long random value, the same on every web and worker machine, e.g. "
        "DJANGO_SECRET_KEY=\"$(python -c 'import secrets; print(secrets.token_urlsafe(50))')\" "
        "(or in .env). scripts/run.sh makes one for you in var/secret-key; DJANGO_DEBUG=true, on your own "
        "machine only, runs on the built-in key."
    )
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("LIKENESS_SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "accounts",
    "orders",
    "avatars",
    "styles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything that reads the body (sessions, CSRF): an oversized one is refused unread.
    "portrait_site.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions (the switcher's choice) and before common (language-aware redirects).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in person's saved language and time zone (accounts.locale says which wins).
    "portrait_site.middleware.PersonLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages (it flashes the refusal): a service's ApplicationError under a page.
    "portrait_site.core.pages.ApplicationErrorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portrait_site.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "portrait_site.urls"
WSGI_APPLICATION = "portrait_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portrait_site.context_processors.likeness",
                "accounts.context_processors.notices",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'likeness.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The ORM broker polls from several processes: wait for the write lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
# Keep each thread's connection between requests: opening one costs more than most pages' queries.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, throttles) ---------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Sessions read from the shared cache save a database query on every signed-in request.
    # Only with a cache every process shares: with a per-process one, a sign-out in one
    # process would leave the session alive in the others' copies.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "likeness"}}
# Whether every process (web and workers) reads the same cache: figures that another process's
# write must reach (the header's unread notices) are kept in it only then.
LIKENESS_CACHE_SHARED = bool(REDIS_URL)

# --- Accounts -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "avatars:home"
LOGOUT_REDIRECT_URL = "landing"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in and sign-up attempts per client address per minute. Sign-in counts the website's
# form, the API's token endpoint and the admin's login together (accounts.services).
LIKENESS_AUTH_RATE_LIMIT = env.int("LIKENESS_AUTH_RATE_LIMIT", default=10)
LIKENESS_API_TOKEN_DAYS = env.int("LIKENESS_API_TOKEN_DAYS", default=90)
# Wrong passwords one address may try against one account in a delay window; then it waits for
# the next window. 5 per 15 minutes: 20 guesses an hour (accounts.services.sign_in_check).
LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS = env.int("LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS", default=5)
LIKENESS_SIGN_IN_DELAY_MINUTES = env.int("LIKENESS_SIGN_IN_DELAY_MINUTES", default=15)
# Wrong passwords per account per hour from every address together; past it, only an address
# with no wrong guess in its window may try (one guess per address per window). Never a lockout.
LIKENESS_SIGN_IN_ACCOUNT_LIMIT = env.int("LIKENESS_SIGN_IN_ACCOUNT_LIMIT", default=30)
# How many reverse proxies stand in front of the site, each appending the address it saw to
# X-Forwarded-For. 0: REMOTE_ADDR is the client. Never more than there are: the extra
# entries would be whatever the client wrote.
LIKENESS_TRUSTED_PROXIES = env.int("LIKENESS_TRUSTED_PROXIES", default=0)

LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS = env.int("LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS", default=48)
LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR = env.int("LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR", default=3)
# Password-reset mails one account may be sent per hour, however many times the form is sent.
LIKENESS_PASSWORD_RESETS_PER_HOUR = env.int("LIKENESS_PASSWORD_RESETS_PER_HOUR", default=3)

# --- Terms and privacy ------------------------------------------------------------
# Who runs this site: named on the terms and privacy pages, and whom people write to.
# Empty: the pages say the operator has not given a name yet, which a public site must fix.
LIKENESS_OPERATOR_NAME = env.str("LIKENESS_OPERATOR_NAME", default="")
# The embedded default works locally; the operator's dashboard warns while it is still this.
LIKENESS_OPERATOR_CONTACT_PLACEHOLDER = "privacy@localhost"
LIKENESS_OPERATOR_CONTACT = env.str("LIKENESS_OPERATOR_CONTACT", default=LIKENESS_OPERATOR_CONTACT_PLACEHOLDER)
# One postal address or registered office, if the operator has one to publish (GDPR Art. 13).
LIKENESS_OPERATOR_ADDRESS = env.str("LIKENESS_OPERATOR_ADDRESS", default="")
# Raise it whenever the text changes: signed-in people are asked to accept the new version
# before they upload or pay again.
LIKENESS_TERMS_VERSION = env.str("LIKENESS_TERMS_VERSION", default="2025-06-01")
# An operator's own wording: template names under a TEMPLATES dir, given the same figures as
# the project's default text (accounts.terms.terms_figures).
LIKENESS_TERMS_TEMPLATE = env.str("LIKENESS_TERMS_TEMPLATE", default="legal/terms.html")
LIKENESS_PRIVACY_TEMPLATE = env.str("LIKENESS_PRIVACY_TEMPLATE", default="legal/privacy.html")

# --- Languages --------------------------------------------------------------------
# Every language the site speaks; each needs a catalogue under locale/ (scripts/messages.sh).
_LANGUAGE_NAMES = {"en": "English", "zh-hans": "简体中文"}
LIKENESS_LANGUAGES = env.list("LIKENESS_LANGUAGES", default=["en", "zh-hans"])
LANGUAGES = [(code, _LANGUAGE_NAMES.get(code, code)) for code in LIKENESS_LANGUAGES]
# Spoken to a visitor whose browser asks for none of LANGUAGES.
LANGUAGE_CODE = env.str("LIKENESS_DEFAULT_LANGUAGE", default="en")
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's cookie outlives a session: a visitor's language survives signing out.
LANGUAGE_COOKIE_AGE = 365 * 86400
LANGUAGE_COOKIE_SAMESITE = "Lax"
# The server's clock and the database's; people see their own zone (accounts.locale).
TIME_ZONE = "UTC"
LIKENESS_DEFAULT_TIME_ZONE = env.str("LIKENESS_DEFAULT_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Files ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the app folders too when collectstatic has not run (tests, a quick local start).
WHITENOISE_USE_FINDERS = True

# Private media: uploads, avatars (LoRA files) and portraits. Never under a public
# URL; pages reach files only through access-checked views.
LIKENESS_STORAGE = env.str("LIKENESS_STORAGE", default="local")
MEDIA_ROOT = env.path("LIKENESS_MEDIA_ROOT", default=VAR_DIR / "private-media")
if LIKENESS_STORAGE == "s3":
    _private_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("LIKENESS_S3_BUCKET"),
            "endpoint_url": env.str("LIKENESS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("LIKENESS_S3_REGION", default=None),
            "access_key": env.str("LIKENESS_S3_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("LIKENESS_S3_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    }
elif LIKENESS_STORAGE == "local":
    _private_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
else:
    raise environ.ImproperlyConfigured("LIKENESS_STORAGE must be 'local' or 's3'")
STORAGES = {
    "default": _private_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Django must never build a public URL for private media.
MEDIA_URL = "/no-public-media/"
# The orphan sweep (manage.py media_orphans_delete, daily) leaves files younger than this:
# longer than any upload in flight, whose file is written before its row commits (a render's
# at the end of a GPU job, at most LIKENESS_GPU_TIMEOUT).
LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS = env.int("LIKENESS_ORPHAN_MEDIA_MIN_AGE_HOURS", default=24)
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

LIKENESS_MAX_UPLOAD_BYTES = env.int("LIKENESS_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = LIKENESS_MAX_UPLOAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Each photo costs the web process about 0.13 s of CPU to check: ten in one request keep it near a second.
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("LIKENESS_MAX_FILES_PER_REQUEST", default=10)
LIKENESS_PHOTO_UPLOADS_PER_HOUR = env.int("LIKENESS_PHOTO_UPLOADS_PER_HOUR", default=200)
# Photos one client address may send in an hour, whatever the accounts: accounts are free, so
# the per-account budget alone does not hold one machine back. Room for a family or an office
# behind one address.
LIKENESS_PHOTO_UPLOADS_PER_HOUR_PER_ADDRESS = env.int("LIKENESS_PHOTO_UPLOADS_PER_HOUR_PER_ADDRESS", default=600)
# The largest legitimate request: a full batch of the largest photos, with room for the form around them.
LIKENESS_MAX_REQUEST_BODY_BYTES = env.int(
    "LIKENESS_MAX_REQUEST_BODY_BYTES", default=DATA_UPLOAD_MAX_NUMBER_FILES * LIKENESS_MAX_UPLOAD_BYTES + 1024 * 1024
)

# Archives one person may download per hour: the data export and portrait zips together.
LIKENESS_ARCHIVES_PER_HOUR = env.int("LIKENESS_ARCHIVES_PER_HOUR", default=10)

# --- Email ----------------------------------------------------------------------
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Likeness <noreply@localhost>")
# Read only by the file-based backend (DJANGO_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend),
# which lets a test read what a worker process sent.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "sent-mail"))

# --- Product --------------------------------------------------------------------
LIKENESS_PRICE_MINOR = env.int("LIKENESS_PRICE_MINOR", default=990)  # ¥9.90
LIKENESS_CURRENCY = env.str("LIKENESS_CURRENCY", default="cny")
# The ways to pay Checkout offers, each where the currency allows it (orders.stripe_gateway):
# WeChat Pay and Alipay are how Chinese customers pay. Empty: the methods set in Stripe's Dashboard.
LIKENESS_PAYMENT_METHODS = env.list("LIKENESS_PAYMENT_METHODS", default=["card", "wechat_pay", "alipay"])
LIKENESS_MIN_PHOTOS = env.int("LIKENESS_MIN_PHOTOS", default=20)
LIKENESS_MAX_PHOTOS = env.int("LIKENESS_MAX_PHOTOS", default=60)
LIKENESS_MAX_OPEN_AVATARS = env.int("LIKENESS_MAX_OPEN_AVATARS", default=5)
LIKENESS_TEMPLATE_REQUESTS_PER_DAY = env.int("LIKENESS_TEMPLATE_REQUESTS_PER_DAY", default=5)
LIKENESS_TRAINING_PHOTOS = env.int("LIKENESS_TRAINING_PHOTOS", default=20)
LIKENESS_MAX_TEMPLATES_PER_ORDER = env.int("LIKENESS_MAX_TEMPLATES_PER_ORDER", default=6)
# After a training fails for good the photos stay this long, so the person can change the
# set and try again; then they are deleted like those of a trained avatar.
LIKENESS_FAILED_PHOTOS_KEEP_DAYS = env.int("LIKENESS_FAILED_PHOTOS_KEEP_DAYS", default=7)
# The photos of an avatar never paid for stay this long after the last one arrived; then they
# are deleted (the avatar stays, empty) and the person is told.
LIKENESS_UNPAID_PHOTOS_KEEP_DAYS = env.int("LIKENESS_UNPAID_PHOTOS_KEEP_DAYS", default=7)

# --- Engine ---------------------------------------------------------------------
# "tiny" builds a pipeline of the family's shape with random weights from configs in code;
# anything else is a .safetensors checkpoint, a diffusers folder or a hub id
# (avatars/engine/base_model.py). `manage.py likeness_model check` tries it.
LIKENESS_BASE_MODEL = env.str("LIKENESS_BASE_MODEL", default="tiny")
# What portraits are rendered with: another checkpoint of the training model's architecture
# (Z-Image Turbo for a LoRA trained on Z-Image Base), or "" for the training model itself.
LIKENESS_RENDER_MODEL = env.str("LIKENESS_RENDER_MODEL", default="")
# "" : the family the weights say (sd15 for the tiny engine); "sd15", "sdxl", "zimage" or
# "flux2_klein" insists (and shapes the tiny engine).
LIKENESS_MODEL_FAMILY = env.str("LIKENESS_MODEL_FAMILY", default="")
# A diffusers folder describing a single-file checkpoint's architecture; "": the family's shipped configs.
LIKENESS_MODEL_CONFIG = env.str("LIKENESS_MODEL_CONFIG", default="")
# Pickled checkpoints (.ckpt) can run code when loaded; only for files whose source you trust.
LIKENESS_ALLOW_PICKLE_CHECKPOINTS = env.bool("LIKENESS_ALLOW_PICKLE_CHECKPOINTS", default=False)
LIKENESS_DEVICE = env.str("LIKENESS_DEVICE", default="auto")
LIKENESS_RESOLUTION = env.int("LIKENESS_RESOLUTION", default=0)  # 0: the engine's own default
# Training, to the reference recipes (avatars/engine/training.py gives each anchor figure):
# EasyPhoto trains 800 steps of 4 photos (3,200 samples, rank 128, text encoder too);
# FaceChain about 4,000 samples with UNet and text-encoder LoRAs at rank 32.
LIKENESS_LORA_RANK = env.int("LIKENESS_LORA_RANK", default=32)
LIKENESS_TEXT_ENCODER_LORA_RANK = env.int("LIKENESS_TEXT_ENCODER_LORA_RANK", default=32)  # 0: UNet only
# Samples for a 20-photo set, scaled with the set's size and capped. The tiny engine (random
# weights, nothing to learn) trains a tenth of that, so the demo's avatar is ready in a minute.
LIKENESS_TRAIN_SAMPLES = env.int("LIKENESS_TRAIN_SAMPLES", default=320 if LIKENESS_BASE_MODEL == "tiny" else 3200)
LIKENESS_TRAIN_MAX_SAMPLES = env.int("LIKENESS_TRAIN_MAX_SAMPLES", default=4000)
LIKENESS_TRAIN_BATCH_SIZE = env.int("LIKENESS_TRAIN_BATCH_SIZE", default=4)
LIKENESS_LEARNING_RATE = env.float("LIKENESS_LEARNING_RATE", default=1e-4)
LIKENESS_TEXT_ENCODER_LEARNING_RATE = env.float("LIKENESS_TEXT_ENCODER_LEARNING_RATE", default=LIKENESS_LEARNING_RATE)
# Validation portraits every this many samples (EasyPhoto: every 100 steps of 4); the one that
# looks most like the person is kept.
LIKENESS_VALIDATE_EVERY = env.int("LIKENESS_VALIDATE_EVERY", default=400)
# "auto": only when a step does not fit in the GPU's memory without it.
LIKENESS_GRADIENT_CHECKPOINTING = {"auto": None, "on": True, "off": False}[
    env.str("LIKENESS_GRADIENT_CHECKPOINTING", default="auto")
]
# "adamw", or "adamw8bit" (needs bitsandbytes installed on the GPU worker; refused otherwise).
LIKENESS_TRAINING_OPTIMIZER = env.str("LIKENESS_TRAINING_OPTIMIZER", default="adamw")
# An avatar whose best validation likeness stays under this is trained once more with another
# seed, then failed (and refunded). 50 is dlib's same-person threshold (distance 0.6).
LIKENESS_MIN_AVATAR_LIKENESS = env.float("LIKENESS_MIN_AVATAR_LIKENESS", default=50.0)
LIKENESS_CANDIDATES_PER_TEMPLATE = env.int("LIKENESS_CANDIDATES_PER_TEMPLATE", default=2)
# Portraits a style's first render keeps (the consumer apps give several per style), each the
# best of its own LIKENESS_CANDIDATES_PER_TEMPLATE candidates; a re-roll or "more like me" makes one.
LIKENESS_PORTRAITS_PER_STYLE = env.int("LIKENESS_PORTRAITS_PER_STYLE", default=4)
LIKENESS_MAX_REROLLS = env.int("LIKENESS_MAX_REROLLS", default=2)
LIKENESS_MIN_LIKENESS = env.float("LIKENESS_MIN_LIKENESS", default=55.0)
LIKENESS_EXTRA_RENDERS = env.int("LIKENESS_EXTRA_RENDERS", default=20)
# "More like me" clicks per portrait that, finding nothing closer, give their render back; later
# ones count, so a purchase can't render without limit (avatars.services.more_like_me_found_nothing_closer).
LIKENESS_MORE_LIKE_ME_FREE_RETRIES = env.int("LIKENESS_MORE_LIKE_ME_FREE_RETRIES", default=1)
LIKENESS_JOB_MAX_ATTEMPTS = env.int("LIKENESS_JOB_MAX_ATTEMPTS", default=3)
# A running job's worker writes its heartbeat this often, from a thread of its own: a slow step
# of the work (loading a model, one long render) never silences it (avatars.gpu.jobs.JobHeartbeat).
LIKENESS_HEARTBEAT_SECONDS = env.float("LIKENESS_HEARTBEAT_SECONDS", default=1.0)
# A running job whose heartbeat is older than this is taken to be dead and requeued: ten missed
# beats, so a database that answers slowly for a few seconds takes over no live job.
LIKENESS_HEARTBEAT_STALE_SECONDS = env.float(
    "LIKENESS_HEARTBEAT_STALE_SECONDS", default=10 * LIKENESS_HEARTBEAT_SECONDS
)
# How often the stale-job sweep looks. A killed worker's job runs again within about the stale
# limit plus this, plus the replacement worker's start (avatars.gpu.jobs.jobs_sweep_loop).
LIKENESS_STALE_SWEEP_SECONDS = env.float(
    "LIKENESS_STALE_SWEEP_SECONDS", default=LIKENESS_HEARTBEAT_STALE_SECONDS / 2
)
LIKENESS_STALE_CHECKOUT_MINUTES = env.int("LIKENESS_STALE_CHECKOUT_MINUTES", default=30)

# --- Stripe ---------------------------------------------------------------------
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Only tests and stripe-mock style servers set this; the SDK talks to Stripe otherwise.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Without a secret key the local test mode is on: a "pay" page runs the same
# fulfilment service. It can never be on while real keys are set.
LIKENESS_LOCAL_PAYMENTS = not STRIPE_SECRET_KEY

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
# The operator's target for how long a GPU job waits: the dashboard and /metrics say how many
# GPUs keep the wait under it (portrait_site.operations.capacity).
LIKENESS_TARGET_WAIT_MINUTES = env.float("LIKENESS_TARGET_WAIT_MINUTES", default=10.0)
# The bearer token a Prometheus scraper sends for /metrics; empty: staff signed in only.
LIKENESS_METRICS_TOKEN = env.str("LIKENESS_METRICS_TOKEN", default="")
# A waiting job whose task the broker does not hold after this long is queued again (the
# stale-job sweep). Tasks are queued in the job's own transaction, so this only catches a
# broker purged by hand or a task lost some other way.
LIKENESS_QUEUED_TASK_GRACE_SECONDS = env.int("LIKENESS_QUEUED_TASK_GRACE_SECONDS", default=120)
# The waits told count the work still to come at the pace it came over this window: long enough
# to ride out a lull, short enough to see the end of a launch's wave (avatars.gpu.estimates).
LIKENESS_ARRIVALS_WINDOW_SECONDS = env.float("LIKENESS_ARRIVALS_WINDOW_SECONDS", default=600)
# What hears of a build that failed for good, with the avatar's id: the one place that wires
# avatars to orders (avatars imports nothing of orders). Orders refunds the payment.
LIKENESS_ON_BUILD_FAILED = "orders.tasks.order_refund_failed_build"

# --- API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous call then gets 401 with "WWW-Authenticate: Token", not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's three, with a JSON parser that answers a body nested too deep with a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "portrait_site.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "portrait_site.core.api.AutoSchema",
    "EXCEPTION_HANDLER": "portrait_site.core.api.exception_handler",
    "NUM_PROXIES": LIKENESS_TRUSTED_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "votes": env.str("LIKENESS_THROTTLE_VOTES", default="30/min"),
        "checkout": env.str("LIKENESS_THROTTLE_CHECKOUT", default="10/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Likeness API",
    "DESCRIPTION": "Private AI portraits from your own avatar.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files (no CDN), its start-up script from a URL of
    # its own: the docs page works under the site's CSP, which allows no inline script or style.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request and response components, so uploads are binary in and URLs out.
    "COMPONENT_SPLIT_REQUEST": True,
    # One schema name per status set: several models have a "status" field, and
    # `check --deploy` must stay free of warnings.
    "ENUM_NAME_OVERRIDES": {
        "AvatarStatusEnum": "avatars.models.Avatar.Status",
        "PhotoStatusEnum": "avatars.models.Photo.Status",
        "JobStatusEnum": "avatars.models.GpuJob.Status",
        "OrderStatusEnum": "orders.models.Order.Status",
        "TemplateRequestStatusEnum": "styles.models.TemplateRequest.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portrait_site.core.api.schema_bound_path_integers",
    ],
}

# --- Security -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
LIKENESS_HTTPS = env.bool("LIKENESS_HTTPS", default=False)
if LIKENESS_HTTPS:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "form-action 'self' https://checkout.stripe.com; frame-ancestors 'none'; base-uri 'self'"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LIKENESS_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
