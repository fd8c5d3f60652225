from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

from styles.selectors import template_list_published


def landing(request):
    return render(request, "landing.html", {
        "templates": list(template_list_published()[:8]),
        "price_minor": settings.LIKENESS_PRICE_MINOR,
        "price_currency": settings.LIKENESS_CURRENCY,
        "min_photos": settings.LIKENESS_MIN_PHOTOS,
    })


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
