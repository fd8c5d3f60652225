"""The orders app's configuration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    # The admin's section heading, in the operator's language.
    verbose_name = _("Orders")
