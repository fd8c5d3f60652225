from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import HttpResponse
from django.shortcuts import render
from django.views import defaults

from avatars.services import photos_too_many_message
from portrait_site.caching import cache_public_page
from portrait_site.errors import json_error
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
    return defaults.bad_request(request, exception)
