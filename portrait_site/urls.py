"""The site's URLs: each app's pages, the admin and its dashboard, the API, health and metrics."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import legal_views
from accounts import views as accounts_views
from portrait_site import views
from portrait_site.operations import admin_dashboard
from portrait_site.operations.metrics import metrics

handler400 = views.bad_request

# The admin is the operator's tool for this site: it says whose.
admin.site.site_header = _("Likeness administration")
admin.site.site_title = _("Likeness admin")
admin.site.index_title = _("Running the studio")

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("terms/", legal_views.terms, name="terms"),
    path("privacy/", legal_views.privacy, name="privacy"),
    # The language switcher on every page (accounts.locale: which choice wins where).
    path("language/", accounts_views.language_choose, name="language-choose"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    # Pages without a <link rel="icon"> (the admin's) make browsers ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/dashboard/", admin.site.admin_view(admin_dashboard.dashboard), name="admin-dashboard"),
    path(
        "admin/dashboard/retry/<str:kind>/<int:job_id>/",
        admin.site.admin_view(admin_dashboard.job_retry_view),
        name="admin-dashboard-retry",
    ),
    # Before admin.site.urls, so the admin's sign-in page counts against the sign-in budget.
    path("admin/login/", accounts_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("orders/", include("orders.urls")),
    path("avatars/", include("avatars.urls")),
    path("styles/", include("styles.urls")),
    path("api/v1/", views.api_index, name="api-index"),
    path("api/v1/", include("portrait_site.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
