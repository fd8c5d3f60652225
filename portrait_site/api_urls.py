from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("avatars.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("styles.api.urls")),
]
