"""The site's own pages: the landing page, the health check, the bad-request page and the API's index."""

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from avatars.services import photos_too_many_message
from portrait_site.core.caching import cache_public_page
from portrait_site.core.errors import json_error
from styles.selectors import template_catalogue_version, template_list_published


@cache_public_page(template_catalogue_version)
def landing(request):
    return render(request, "landing.html", {
        "templates": list(template_list_published()[:8]),
        "price_minor": settings.LIKENESS_PRICE_MINOR,
        "price_currency": settings.LIKENESS_CURRENCY,
        "min_photos": settings.LIKENESS_MIN_PHOTOS,
    })


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def bad_request(request, exception):
    # Too many files in one POST is raised while the CSRF check reads the form, before the
    # upload view can answer: the page's script still gets the reason it shows to the person.
    if isinstance(exception, (TooManyFilesSent, RequestDataTooBig)):
        return json_error(status=400, code="invalid", message=photos_too_many_message())
    # A view's own BadRequest says, for the person, what was wrong; other 400s (a forged Host, a
    # broken multipart body) say nothing of how the site is built.
    message = str(exception) if type(exception) is BadRequest else ""
    return render(request, "400.html", {"message": message}, status=400)


# The API's entry points, named as in its URLconf: /api/v1/ lists them instead of answering 404.
API_ENTRY_POINTS = {
    "token": "api:auth-token",
    "me": "api:me",
    "avatars": "api:avatar-list",
    "portraits": "api:portrait-list",
    "orders": "api:order-list",
    "templates": "api:template-list",
    "template_requests": "api:template-request-list",
}


def api_index(request):
    return JsonResponse({
        "name": "Likeness API",
        "version": "v1",
        "docs": request.build_absolute_uri(reverse("api-docs")),
        "schema": request.build_absolute_uri(reverse("api-schema")),
        "authentication": "A token from POST token (Authorization: Token <key>), or the website's session.",
        "endpoints": {name: request.build_absolute_uri(reverse(url_name)) for name, url_name in API_ENTRY_POINTS.items()},
    })
