"""The accounts pages' URLs: sign-up, sign-in, password reset, email verification, terms, consent and My data."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import legal_views, views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("my-data/", views.my_data, name="my_data"),
    path("my-data/language/", views.locale_preferences, name="locale_preferences"),
    path("my-data/avatars/<uuid:public_id>/delete/", views.avatar_delete, name="avatar_delete"),
    path("my-data/portraits/<uuid:public_id>/delete/", views.portrait_delete, name="portrait_delete"),
    path("my-data/api-tokens/<int:token_id>/revoke/", views.api_token_revoke_view, name="api_token_revoke"),
    path("my-data/delete-everything/", views.delete_everything, name="delete_everything"),
    path("my-data/download/", legal_views.my_data_download, name="my_data_download"),
    path("receipts/<str:token>/", views.receipt, name="receipt"),
    path("receipts/<str:token>/download/", legal_views.receipt_download, name="receipt_download"),
    path("terms/accept/", legal_views.terms_accept_page, name="terms_accept"),
    path("photo-consent/<uuid:public_id>/", legal_views.photo_consent, name="photo_consent"),
    path("verify-email/", legal_views.verify_email_needed, name="verify_email_needed"),
    path("verify-email/<str:token>/", legal_views.verify_email, name="verify_email"),
]
