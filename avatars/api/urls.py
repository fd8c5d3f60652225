"""The avatars API's URLs: avatars, their photos, styles, renders, portraits and downloads."""

from django.urls import path

from avatars.api import views

urlpatterns = [
    path("avatars/", views.AvatarListView.as_view(), name="avatar-list"),
    path("avatars/<uuid:public_id>/", views.AvatarDetailView.as_view(), name="avatar-detail"),
    path("avatars/<uuid:public_id>/photos/", views.AvatarPhotosView.as_view(), name="avatar-photos"),
    path(
        "avatars/<uuid:public_id>/photos/<int:photo_id>/",
        views.AvatarPhotoView.as_view(),
        name="avatar-photo",
    ),
    path(
        "avatars/<uuid:public_id>/photos/<int:photo_id>/image/",
        views.AvatarPhotoImageView.as_view(),
        name="avatar-photo-image",
    ),
    path("avatars/<uuid:public_id>/templates/", views.AvatarTemplatesView.as_view(), name="avatar-templates"),
    path("avatars/<uuid:public_id>/progress/", views.AvatarProgressView.as_view(), name="avatar-progress"),
    path(
        "avatars/<uuid:public_id>/render-more/",
        views.AvatarRenderMoreView.as_view(),
        name="avatar-render-more",
    ),
    path("avatars/<uuid:public_id>/reopen/", views.AvatarReopenView.as_view(), name="avatar-reopen"),
    path("portraits/", views.PortraitListView.as_view(), name="portrait-list"),
    path("portraits/<uuid:public_id>/", views.PortraitDetailView.as_view(), name="portrait-detail"),
    path(
        "portraits/<uuid:public_id>/download/", views.PortraitDownloadView.as_view(), name="portrait-download"
    ),
    path(
        "portraits/<uuid:public_id>/more-like-me/",
        views.PortraitMoreLikeMeView.as_view(),
        name="portrait-more-like-me",
    ),
    path("portraits/<uuid:public_id>/reroll/", views.PortraitRerollView.as_view(), name="portrait-reroll"),
]
