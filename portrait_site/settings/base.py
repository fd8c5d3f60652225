"""The site's frame: where it lives, its secret key, hosts, apps, middleware, templates, languages, logs."""

import os
from pathlib import Path

import environ

# Files this process writes are its own: selfies, LoRA weights, portraits, the SQLite database
# and the var/ folders are read by no other account on the host. Set before anything below
# creates a folder; storage's own writes say the same with FILE_UPLOAD_*PERMISSIONS.
os.umask(0o077)

# The project root: this file is portrait_site/settings/base.py.
BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
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

# --- Languages --------------------------------------------------------------------
# Each language but the default needs a catalogue under locale/ (scripts/messages.sh).
_LANGUAGE_NAMES = {"en": "English", "zh-hans": "简体中文"}
LIKENESS_LANGUAGES = env.list("LIKENESS_LANGUAGES", default=["en", "zh-hans"])
LANGUAGES = [(code, _LANGUAGE_NAMES.get(code, code)) for code in LIKENESS_LANGUAGES]
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LIKENESS_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
