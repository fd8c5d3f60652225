from django.shortcuts import render

from styles.selectors import template_list_published


def gallery(request):
    return render(request, "styles/gallery.html", {"templates": template_list_published()})
