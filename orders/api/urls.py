"""The orders API's URLs: an avatar's checkout and the person's orders."""

from django.urls import path

from orders.api import views

urlpatterns = [
    path("avatars/<uuid:public_id>/checkout/", views.CheckoutView.as_view(), name="avatar-checkout"),
    path("orders/", views.OrderListView.as_view(), name="order-list"),
    path("orders/<uuid:public_id>/", views.OrderDetailView.as_view(), name="order-detail"),
]
