"""Pages kept in the cache: public pages for anonymous visitors, and polled or reloaded answers under their version.

The landing page, the style gallery and the public template API are the same for
every anonymous visitor and make up most of a portrait studio's traffic, so their
rendered bytes are kept for a minute. The key includes the catalogue's version, so
an operator's edit shows at once; only usage counts may lag by up to a minute.
Signed-in visitors, token clients, visitors with a pending message and any page that hands out a CSRF token (which is
per visitor) are never served from or written to this cache.

A page that a signed-in person polls or reloads (the progress poll, the request list) is kept
for that person under a version read in one query, so an unchanged answer or its 304 costs
that query alone.
"""

import hashlib
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import cc_delim_re, patch_cache_control, patch_vary_headers
from django.utils.http import parse_etags, quote_etag
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language
from django.views.decorators.http import conditional_page

PUBLIC_PAGE_SECONDS = 60
PUBLIC_PAGE_KEY = "public-page:v2:"  # v2: kept with what the answer varies on


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
            key = PUBLIC_PAGE_KEY + hashlib.sha256(
                # A page is kept once per language: the visitor's, as LocaleMiddleware chose it.
                f"{version()}|{get_language()}|{request.get_full_path()}|{request.META.get('HTTP_ACCEPT', '')}".encode()
            ).hexdigest()
            cached = cache.get(key)
            if cached is not None:
                content, content_type, vary = cached
                response = HttpResponse(content, content_type=content_type)
                # What the view's answer varies on (the API's Accept) holds for its copy too.
                if vary:
                    patch_vary_headers(response, vary)
                return response
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
                vary = cc_delim_re.split(response["Vary"]) if response.has_header("Vary") else []
                cache.set(key, (response.content, response["Content-Type"], vary), PUBLIC_PAGE_SECONDS)
            return response

        return wrapper

    return decorator


# The poll answers kept under their version are private: the key carries the version, which is
# read for the signed-in person's own object only, and the person's id.
POLL_KEY = "poll-answer:{digest}"


def progress_poll_response(version, *, before_building=None):
    """Decorate a view that pages poll. `version(request, *args, **kwargs)` reads, in one query,
    a string that every write to what the answer shows changes; None when the request gets no
    answer of its own (not theirs: the view then says so). The answer is kept under that version
    for as long as the view says it holds (`response.holds_seconds`: what moves with time alone),
    so a poll that sends back its ETag (If-None-Match) gets an empty 304 after that one query,
    and one that does not gets the kept answer. Once that has passed, the answer is built again
    and a poll whose ETag still matches its bytes gets its 304 all the same. Only JSON answers
    are kept; every answer is private and never answered from a cache unchecked.
    `before_building(version)`, when given, runs before an answer is built anew."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            found = version(request, *args, **kwargs) if request.method in ("GET", "HEAD") else None
            if found is None:
                return _private(conditional_page(view)(request, *args, **kwargs))
            key = POLL_KEY.format(digest=hashlib.sha256(
                f"{request.user.pk}|{found}|{get_language()}|{request.get_full_path()}|"
                f"{request.META.get('HTTP_ACCEPT', '')}".encode()
            ).hexdigest())
            kept = cache.get(key)
            if kept is None:
                if before_building is not None:
                    before_building(found)
                response = conditional_page(view)(request, *args, **kwargs)
                _keep_when_rendered(response, key)
                return _private(response)
            etag, content, content_type = kept
            if etag in _etags_sent(request):
                response = HttpResponseNotModified()
            else:
                response = HttpResponse(content, content_type=content_type)
            response["ETag"] = etag
            return _private(response)

        return wrapper

    return decorator


def _keep_when_rendered(response, key: str) -> None:
    def keep(rendered):
        holds = getattr(rendered, "holds_seconds", None)
        if (
            holds and rendered.status_code == 200 and not rendered.streaming and rendered.has_header("ETag")
            and rendered["Content-Type"].startswith("application/json")
        ):
            cache.set(key, (rendered["ETag"], rendered.content, rendered["Content-Type"]), holds)

    if hasattr(response, "add_post_render_callback") and not getattr(response, "is_rendered", True):
        response.add_post_render_callback(keep)
    else:
        keep(response)


def _etags_sent(request) -> list[str]:
    return parse_etags(request.META.get("HTTP_IF_NONE_MATCH", ""))


def _private(response):
    patch_cache_control(response, private=True, no_cache=True)
    return response


# A signed-in page kept for its person: as long as the shared figures it shows may lag anyway.
PERSONAL_PAGE_SECONDS = 60
PERSONAL_PAGE_KEY = "personal-page:{digest}"


def personal_page_kept(version):
    """Decorate a signed-in page that people reload often (the request list). `version(request)`
    reads, in at most one query, a string that changes with everything the page shows this
    person, the header included; None: not kept. The rendered page is kept for the person, their
    CSRF secret, language and the URL, so reloading it costs that one query; an ETag sent back
    (If-None-Match) gets an empty 304. Never kept nor served: a request carrying a one-off message,
    a page that set a cookie or handed out a CSRF secret the browser does not hold yet."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            found = None
            if request.method == "GET" and request.user.is_authenticated and not _message_pending(request):
                found = version(request)
            if found is None:
                return view(request, *args, **kwargs)
            key = PERSONAL_PAGE_KEY.format(digest=hashlib.sha256(
                f"{request.user.pk}|{found}|{get_language()}|{get_current_timezone_name()}|{request.get_full_path()}|"
                f"{request.COOKIES.get(settings.CSRF_COOKIE_NAME, '')}".encode()
            ).hexdigest())
            kept = cache.get(key)
            if kept is None:
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and callable(response.render):
                    response.render()
                if (
                    response.status_code == 200 and not response.streaming and not response.cookies
                    and _csrf_secret_is_the_browsers(request)
                ):
                    response["ETag"] = quote_etag(hashlib.md5(response.content, usedforsecurity=False).hexdigest())
                    cache.set(key, (response["ETag"], response.content, response["Content-Type"]), PERSONAL_PAGE_SECONDS)
                return _private(response)
            etag, content, content_type = kept
            response = HttpResponseNotModified() if etag in _etags_sent(request) else HttpResponse(
                content, content_type=content_type
            )
            response["ETag"] = etag
            return _private(response)

        return wrapper

    return decorator


def _csrf_secret_is_the_browsers(request) -> bool:
    """The page's CSRF tokens, if it has any, are made from the secret the browser's cookie
    already holds (not one this response hands out), so the kept page's forms post from it."""
    secret = request.META.get("CSRF_COOKIE")
    return secret is None or secret == request.COOKIES.get(settings.CSRF_COOKIE_NAME)


def _message_pending(request) -> bool:
    """A one-off message (django.contrib.messages) waits for this request: its page is its own."""
    return "messages" in request.COOKIES or "_messages" in request.session
