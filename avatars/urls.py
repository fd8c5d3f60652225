from django.urls import path

from avatars import views

app_name = "avatars"

urlpatterns = [
    path("", views.home, name="home"),
]
