"""The styles API's URLs: the template gallery, template requests and their votes."""

from django.urls import path

from portrait_site.core.caching import cache_public_page
from styles.api import views
from styles.selectors import template_catalogue_version

public = cache_public_page(template_catalogue_version)

urlpatterns = [
    path("templates/", public(views.TemplateListView.as_view()), name="template-list"),
    path("templates/<slug:slug>/", public(views.TemplateDetailView.as_view()), name="template-detail"),
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
