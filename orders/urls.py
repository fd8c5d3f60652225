"""The orders pages' URLs: checkout, an order's page and its status, local test payment, Stripe's webhook."""

from django.urls import path

from orders import views, webhooks

app_name = "orders"

urlpatterns = [
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("checkout/<uuid:avatar_public_id>/", views.checkout, name="checkout"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/status.json", views.status_json, name="status"),
    path("<uuid:public_id>/local-pay/", views.local_pay, name="local_pay"),
]
