from django.urls import path

from styles.api import views

urlpatterns = [
    path("templates/", views.TemplateListView.as_view(), name="template-list"),
    path("templates/<slug:slug>/", views.TemplateDetailView.as_view(), name="template-detail"),
    path("template-requests/", views.TemplateRequestListView.as_view(), name="template-request-list"),
    path(
        "template-requests/<int:request_id>/",
        views.TemplateRequestDetailView.as_view(),
        name="template-request-detail",
    ),
    path(
        "template-requests/<int:request_id>/vote/",
        views.TemplateRequestVoteView.as_view(),
        name="template-request-vote",
    ),
]
