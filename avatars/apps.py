"""The avatars app's configuration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AvatarsConfig(AppConfig):
    name = "avatars"
    # The admin's section heading, in the operator's language.
    verbose_name = _("Avatars")
