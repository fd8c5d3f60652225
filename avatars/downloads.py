"""The full-size portrait download, one answer for the page and the API: the PNG with its making written in, counted."""

from django.http import Http404, HttpResponse

from avatars import selectors, services
from avatars.models import Portrait
from portrait_site.core.files import private_bytes_response


def portrait_download_response(*, portrait: Portrait) -> HttpResponse:
    try:
        content = selectors.portrait_download_bytes(portrait=portrait)
    except FileNotFoundError:
        raise Http404("This file is no longer stored.") from None
    services.portrait_download_record(portrait=portrait)
    return private_bytes_response(
        content, content_type="image/png", download_name=selectors.portrait_download_name(portrait=portrait)
    )
