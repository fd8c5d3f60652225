"""What the site offers and on what terms: price and limits, the operator's terms, Stripe, and the API."""

from portrait_site.settings.base import env
from portrait_site.settings.security import LIKENESS_TRUSTED_PROXIES

# --- The offer and its limits -------------------------------------------------------
LIKENESS_PRICE_MINOR = env.int("LIKENESS_PRICE_MINOR", default=990)  # ¥9.90
LIKENESS_CURRENCY = env.str("LIKENESS_CURRENCY", default="cny")
# WeChat Pay and Alipay are how Chinese customers pay; each is offered only where the currency
# allows it (orders.stripe_gateway).
LIKENESS_PAYMENT_METHODS = env.list("LIKENESS_PAYMENT_METHODS", default=["card", "wechat_pay", "alipay"])
LIKENESS_MIN_PHOTOS = env.int("LIKENESS_MIN_PHOTOS", default=20)
LIKENESS_MAX_PHOTOS = env.int("LIKENESS_MAX_PHOTOS", default=60)
LIKENESS_MAX_OPEN_AVATARS = env.int("LIKENESS_MAX_OPEN_AVATARS", default=5)
LIKENESS_TEMPLATE_REQUESTS_PER_DAY = env.int("LIKENESS_TEMPLATE_REQUESTS_PER_DAY", default=5)
LIKENESS_TRAINING_PHOTOS = env.int("LIKENESS_TRAINING_PHOTOS", default=20)
LIKENESS_MAX_TEMPLATES_PER_ORDER = env.int("LIKENESS_MAX_TEMPLATES_PER_ORDER", default=6)
# Long enough for the person to change the set and try again before they go.
LIKENESS_FAILED_PHOTOS_KEEP_DAYS = env.int("LIKENESS_FAILED_PHOTOS_KEEP_DAYS", default=7)
LIKENESS_UNPAID_PHOTOS_KEEP_DAYS = env.int("LIKENESS_UNPAID_PHOTOS_KEEP_DAYS", default=7)

# --- Terms and privacy ------------------------------------------------------------
# Empty: the pages say the operator has not given a name yet, which a public site must fix.
LIKENESS_OPERATOR_NAME = env.str("LIKENESS_OPERATOR_NAME", default="")
# The embedded default works locally; the operator's dashboard warns while it is still this.
LIKENESS_OPERATOR_CONTACT_PLACEHOLDER = "privacy@localhost"
LIKENESS_OPERATOR_CONTACT = env.str("LIKENESS_OPERATOR_CONTACT", default=LIKENESS_OPERATOR_CONTACT_PLACEHOLDER)
# GDPR Art. 13 asks for one, where the operator has one to publish.
LIKENESS_OPERATOR_ADDRESS = env.str("LIKENESS_OPERATOR_ADDRESS", default="")
LIKENESS_TERMS_VERSION = env.str("LIKENESS_TERMS_VERSION", default="2025-06-01")
LIKENESS_TERMS_TEMPLATE = env.str("LIKENESS_TERMS_TEMPLATE", default="legal/terms.html")
LIKENESS_PRIVACY_TEMPLATE = env.str("LIKENESS_PRIVACY_TEMPLATE", default="legal/privacy.html")

# --- Stripe ---------------------------------------------------------------------
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Only tests and stripe-mock style servers set this; the SDK talks to Stripe otherwise.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Without a secret key the local test mode is on: a "pay" page runs the same
# fulfilment service. It can never be on while real keys are set.
LIKENESS_LOCAL_PAYMENTS = not STRIPE_SECRET_KEY

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
