"""The pages' one way through for a service's refusal: every ApplicationError answered by its status and message.

The API's exception handler (portrait_site.core.api) does the same for /api/v1/; DRF answers
there before any middleware sees the exception. Views call services and let refusals rise.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from portrait_site.core.errors import ApplicationError, json_error


def _page_the_person_was_on(request) -> str | None:
    """The Referer's path, when it is a page of this site (same-origin pages send it:
    SECURE_REFERRER_POLICY); None for another site's page or none."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer or not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(referer)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path or "/"


def refusals_back_to(where):
    """For a page endpoint a form posts to: a refusal is flashed and the person sent back to
    `where` (a URL name, or a function of the request giving a URL), Referer or none."""

    def decorate(view):
        @wraps(view)
        def sending_back(request, *args, **kwargs):
            request.refusal_back_url = where(request) if callable(where) else reverse(where)
            return view(request, *args, **kwargs)

        return sending_back

    return decorate


def refusals_as_json(view):
    """For a page endpoint that a script posts to and that always answers JSON (as its API twin
    does): a refusal is the API's error body whatever the request's Accept header says."""

    @wraps(view)
    def answering_json(request, *args, **kwargs):
        request.refusals_as_json = True
        return view(request, *args, **kwargs)

    return answering_json


class ApplicationErrorMiddleware:
    """Answers a page's ApplicationError:
    - a script that asked for JSON (or a view marked refusals_as_json) gets the API's error body with the refusal's status;
    - a refusal that needs a step first (next_step_url_name) sends the person to that step,
      and back to the page they were on afterwards;
    - a refusal with a page of its own (page_template) is that page, with the refusal's status;
    - a form posted to a view marked refusals_back_to, or from one of our pages, goes back there
      with the message flashed;
    - anything else is an error page in the reader's language with the refusal's status.
    Every answer carries the refusal's own headers (a wait's Retry-After).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ApplicationError):
            return None
        response = self._answer(request, exception)
        for header, value in exception.response_headers().items():
            response[header] = value
        return response

    @staticmethod
    def _answer(request, exception: ApplicationError):
        wants_json = request.accepts("application/json") and not request.accepts("text/html")
        if wants_json or getattr(request, "refusals_as_json", False):
            return json_error(status=exception.http_status, code=exception.code, message=exception.message)
        came_from = _page_the_person_was_on(request)
        if exception.next_step_url_name:
            messages.error(request, exception.message)
            back = came_from or (request.path if request.method == "GET" else "/")
            return redirect(f"{reverse(exception.next_step_url_name)}?{urlencode({'next': back})}")
        if exception.page_template:
            return render(request, exception.page_template, exception.page_context(), status=exception.http_status)
        back = getattr(request, "refusal_back_url", None) or (came_from if request.method != "GET" else None)
        if back:
            messages.error(request, exception.message)
            return redirect(back)
        return render(
            request, "refused.html", {"message": exception.message, "code": exception.code},
            status=exception.http_status,
        )
