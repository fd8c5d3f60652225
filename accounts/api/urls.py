"""The accounts API's URLs: tokens, the signed-in person, their terms, verification, export and photo consent."""

from django.urls import path

from accounts.api import legal_views, views

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("auth/token/revoke/", views.TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/terms/", legal_views.MyTermsView.as_view(), name="me-terms"),
    path("me/verify-email/", legal_views.VerifyEmailView.as_view(), name="me-verify-email"),
    path("me/export/", legal_views.MyDataExportView.as_view(), name="me-export"),
    path("terms/", legal_views.TermsView.as_view(), name="terms"),
    path("avatars/<uuid:public_id>/photo-consent/", legal_views.PhotoConsentView.as_view(), name="avatar-photo-consent"),
]
