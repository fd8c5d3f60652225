"""The API's URLs under /api/v1/: each app's, gathered (the schema and its docs are in portrait_site.urls)."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("avatars.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("styles.api.urls")),
]
