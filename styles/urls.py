from django.urls import path

from styles import views

app_name = "styles"

urlpatterns = [
    path("", views.gallery, name="gallery"),
]
