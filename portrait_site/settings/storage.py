"""Where the site keeps things: its database, its cache, its files (private media, uploads) and its mail."""

from pathlib import Path

import environ

from portrait_site.settings.base import BASE_DIR, VAR_DIR, env

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
# Longer than any upload in flight, whose file is written before its row commits (a render's
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
# Accounts are free, so the per-account budget alone does not hold one machine back; this one
# counts per client address, with room for a family or an office behind one address.
LIKENESS_PHOTO_UPLOADS_PER_HOUR_PER_ADDRESS = env.int("LIKENESS_PHOTO_UPLOADS_PER_HOUR_PER_ADDRESS", default=600)
# The largest legitimate request: a full batch of the largest photos, with room for the form around them.
LIKENESS_MAX_REQUEST_BODY_BYTES = env.int(
    "LIKENESS_MAX_REQUEST_BODY_BYTES", default=DATA_UPLOAD_MAX_NUMBER_FILES * LIKENESS_MAX_UPLOAD_BYTES + 1024 * 1024
)
LIKENESS_ARCHIVES_PER_HOUR = env.int("LIKENESS_ARCHIVES_PER_HOUR", default=10)

# --- Email ----------------------------------------------------------------------
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Likeness <noreply@localhost>")
# Read only by the file-based backend, which lets a test read what a worker process sent.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "sent-mail"))
