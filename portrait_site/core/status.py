"""Guarded status transitions shared by the models that have a lifecycle."""

from django.db import models

from portrait_site.core.errors import ApplicationError


class InvalidTransition(ApplicationError):
    def __init__(self, obj, new_status):
        self.obj = obj
        self.new_status = new_status
        super().__init__(f"{type(obj).__name__} {obj.pk}: cannot go from {obj.status!r} to {new_status!r}")


class StatusModel(models.Model):
    """A model with a `status` field whose allowed moves are listed in TRANSITIONS.

    `transition_to` changes the field in memory only: the service that calls it
    holds the row lock and saves, so the check and the write are one step.
    """

    TRANSITIONS: dict[str, set[str]] = {}

    class Meta:
        abstract = True

    def can_transition_to(self, new_status: str) -> bool:
        return new_status in self.TRANSITIONS.get(self.status, set())

    def transition_to(self, new_status: str) -> None:
        if not self.can_transition_to(new_status):
            raise InvalidTransition(self, new_status)
        self.status = new_status
