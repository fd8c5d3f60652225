"""The styles pages' URLs: the gallery, a style's page and pictures, template requests and votes."""

from django.urls import path

from styles import views

app_name = "styles"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("requests/", views.request_list, name="requests"),
    path("requests/<int:request_id>/vote/", views.request_vote, name="request_vote"),
    path("requests/<int:request_id>/reference/", views.request_reference_image, name="request_reference"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/cover/", views.cover, name="cover"),
    path("<slug:slug>/examples/<int:example_id>/", views.example, name="example"),
]
