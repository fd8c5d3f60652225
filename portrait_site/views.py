from django.http import HttpResponse
from django.shortcuts import render

from styles.selectors import template_list_published


def landing(request):
    return render(request, "landing.html", {"templates": template_list_published()[:6]})


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
