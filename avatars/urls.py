"""The avatars pages' URLs: my avatars, an avatar's photos, styles, progress and portraits, and their files."""

from django.urls import path

from avatars import views

app_name = "avatars"

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.create, name="create"),
    path("use-style/<slug:slug>/", views.use_style, name="use_style"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/photos/", views.photo_upload, name="photo_upload"),
    path("<uuid:public_id>/photos/clear-refused/", views.photos_refused_clear, name="photos_refused_clear"),
    path("<uuid:public_id>/photos/<int:photo_id>/remove/", views.photo_remove, name="photo_remove"),
    path("<uuid:public_id>/photos/<int:photo_id>/image/", views.photo_image, name="photo_image"),
    path("<uuid:public_id>/photos/<int:photo_id>/thumbnail/", views.photo_thumbnail, name="photo_thumbnail"),
    path("<uuid:public_id>/templates/", views.templates_choose, name="templates_choose"),
    path("<uuid:public_id>/progress.json", views.progress, name="progress"),
    path("<uuid:public_id>/render-more/", views.render_more, name="render_more"),
    path("<uuid:public_id>/reopen/", views.reopen, name="reopen"),
    path("<uuid:public_id>/portraits.zip", views.portraits_download_all, name="portraits_download_all"),
    path("portraits/<uuid:public_id>/", views.portrait_detail, name="portrait_detail"),
    path("portraits/<uuid:public_id>/image/", views.portrait_image, name="portrait_image"),
    path("portraits/<uuid:public_id>/download/", views.portrait_download, name="portrait_download"),
    path("portraits/<uuid:public_id>/more-like-me/", views.portrait_more_like_me, name="portrait_more_like_me"),
    path("portraits/<uuid:public_id>/reroll/", views.portrait_reroll, name="portrait_reroll"),
    path("portraits/<uuid:public_id>/favourite/", views.portrait_favourite, name="portrait_favourite"),
]
