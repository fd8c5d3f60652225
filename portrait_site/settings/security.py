"""Who may sign in and how often, and what every answer's cookies and headers allow."""

from portrait_site.settings.base import env

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
# accounts.services counts the website's form, the API's token endpoint and the admin's login together.
LIKENESS_AUTH_RATE_LIMIT = env.int("LIKENESS_AUTH_RATE_LIMIT", default=10)
LIKENESS_API_TOKEN_DAYS = env.int("LIKENESS_API_TOKEN_DAYS", default=90)
# 5 per 15 minutes: 20 guesses an hour per address (accounts.services.sign_in_check).
LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS = env.int("LIKENESS_SIGN_IN_FAILURES_PER_ADDRESS", default=5)
LIKENESS_SIGN_IN_DELAY_MINUTES = env.int("LIKENESS_SIGN_IN_DELAY_MINUTES", default=15)
# Never a lockout: past it, an address with no wrong guess in its window still gets one.
LIKENESS_SIGN_IN_ACCOUNT_LIMIT = env.int("LIKENESS_SIGN_IN_ACCOUNT_LIMIT", default=30)
# Never more than there are: the extra X-Forwarded-For entries would be whatever the client wrote.
LIKENESS_TRUSTED_PROXIES = env.int("LIKENESS_TRUSTED_PROXIES", default=0)

LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS = env.int("LIKENESS_EMAIL_VERIFICATION_MAX_AGE_HOURS", default=48)
LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR = env.int("LIKENESS_EMAIL_VERIFICATION_RESENDS_PER_HOUR", default=3)
LIKENESS_PASSWORD_RESETS_PER_HOUR = env.int("LIKENESS_PASSWORD_RESETS_PER_HOUR", default=3)

# --- Cookies and headers ----------------------------------------------------------
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
