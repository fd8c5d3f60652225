"""A short-lived cache of public pages for anonymous visitors, and answers to polls from what changed.

The landing page, the style gallery and the public template API are the same for
every anonymous visitor and make up most of a portrait studio's traffic, so their
rendered bytes are kept for a minute. The key includes the catalogue's version, so
an operator's edit shows at once; only usage counts may lag by up to a minute.
Signed-in visitors, token clients, visitors with a pending message and any page that hands out a CSRF token (which is
per visitor) are never served from or written to this cache.
"""

import hashlib
from functools import wraps

from django.core.cache import cache
from django.http import HttpResponse
from django.utils.translation import get_language
from django.views.decorators.cache import cache_control
from django.views.decorators.http import conditional_page

PUBLIC_PAGE_SECONDS = 60


def cache_public_page(version):
    """Decorate a view; `version()` returns a string that changes whenever the page's content does."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            personal = (
                request.method != "GET"
                or "HTTP_AUTHORIZATION" in request.META
                or "messages" in request.COOKIES  # a one-off message must reach only its visitor
                or request.user.is_authenticated
            )
            if personal:
                return view(request, *args, **kwargs)
            key = "public-page:" + hashlib.sha256(
                # A page is kept once per language: the visitor's, as LocaleMiddleware chose it.
                f"{version()}|{get_language()}|{request.get_full_path()}|{request.META.get('HTTP_ACCEPT', '')}".encode()
            ).hexdigest()
            cached = cache.get(key)
            if cached is not None:
                content, content_type = cached
                return HttpResponse(content, content_type=content_type)
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and callable(response.render):
                response.render()
            cacheable = (
                response.status_code == 200
                and not response.streaming
                and not response.cookies
                and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
                and not request.META.get("CSRF_COOKIE_USED")
            )
            if cacheable:
                cache.set(key, (response.content, response["Content-Type"]), PUBLIC_PAGE_SECONDS)
            return response

        return wrapper

    return decorator


def progress_poll_response(view):
    """Decorate a view that pages poll: its answer carries an ETag of its content, and a poll
    that sends that ETag back (If-None-Match) gets an empty 304 while nothing changed.
    The content is still computed: queue positions move with other people's jobs, which no
    stamp of this avatar's rows records. Access rules run first: a refused request raises
    before any ETag is compared. Private, and never answered from a cache unchecked."""
    return cache_control(private=True, no_cache=True)(conditional_page(view))
