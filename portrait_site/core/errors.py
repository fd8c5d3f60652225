"""One base class for the services' refusals: a machine code, an HTTP status and a sentence for people.

A service raises a subclass of ApplicationError when a request can't be done as asked; the
message is written for the person who asked. The API's exception handler maps the base class
once (portrait_site.core.api) and the pages' middleware maps it once too
(portrait_site.core.pages), so a new refusal needs no registration anywhere. A leaf module:
every app may import it.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import JsonResponse
from django.utils.translation import gettext


class ApplicationError(Exception):
    code = "conflict"
    http_status = 409
    # The page where a person can clear this refusal (a URL name), for one that asks for a step
    # first (the terms, a verified address); pages send the person there and back.
    next_step_url_name: str | None = None
    # A page of its own for this refusal (a template name), for one whose page says more than the
    # generic refusal page does; pages render it with page_context() at the refusal's status.
    page_template: str | None = None

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        # Per-field messages, for a refusal caused by one input (the API puts them under "fields").
        self.fields = fields

    def page_context(self) -> dict:
        """What page_template is rendered with."""
        return {"message": self.message, "code": self.code}

    def response_headers(self) -> dict[str, str]:
        """Headers every answer to this refusal carries, page or API (a wait's Retry-After)."""
        return {}


class NotFound(ApplicationError):
    """The selectors' one not-found: what does not exist and what is someone else's read the same,
    so a guessed id learns nothing. Both handlers answer it with a 404."""

    code = "not_found"
    http_status = 404

    def __init__(self, message: str | None = None):
        super().__init__(message or gettext("Not found: it does not exist, or it is not yours."))


def object_get_or_not_found(queryset: QuerySet, **lookup):
    """The one row that matches, or NotFound: get_object_or_404 for the selectors, which speak
    application errors rather than HTTP."""
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise NotFound() from None


def json_error(*, status: int, code: str, message: str) -> JsonResponse:
    """The API's error body (portrait_site.core.api.error_response) from a plain Django view, for the
    pages' scripts: they read one shape wherever they post."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)
