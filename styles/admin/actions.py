"""The styles admin's actions: a service run over each chosen row, each refusal said, the successes counted."""

from django.contrib import messages
from django.utils.translation import gettext_lazy as _

from portrait_site.core.errors import ApplicationError


def run_each(modeladmin, request, objects, action, done: str) -> None:
    succeeded = 0
    for obj in objects:
        try:
            action(obj)
        except ApplicationError as refusal:
            modeladmin.message_user(request, str(refusal), messages.WARNING)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, _("%(done)s: %(count)s.") % {"done": done, "count": succeeded}, messages.SUCCESS)
