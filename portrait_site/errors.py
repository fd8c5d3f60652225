"""One base class for the services' refusals: a machine code, an HTTP status and a sentence for people.

A service raises a subclass of ApplicationError when a request can't be done as asked; the
message is written for the person who asked. The API's exception handler maps the base class
once (portrait_site.api), so a new refusal needs no registration anywhere. Pages show the
message. A leaf module: every app may import it.
"""

from __future__ import annotations


class ApplicationError(Exception):
    code = "conflict"
    http_status = 409

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        # Per-field messages, for a refusal caused by one input (the API puts them under "fields").
        self.fields = fields
