"""The styles app's configuration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StylesConfig(AppConfig):
    name = "styles"
    # The admin's section heading, in the operator's language.
    verbose_name = _("Styles")
