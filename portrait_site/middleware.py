"""The site's own middleware: security headers, the person's language and time zone, and the request body limit."""

import tempfile
import zoneinfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portrait_site.core.errors import json_error


class SecurityHeadersMiddleware:
    """Adds the headers Django does not set itself: Content-Security-Policy and Permissions-Policy."""

    # Upload pages take files, never the camera: no page may ask for sensors.
    PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", self.PERMISSIONS_POLICY)
        return response


class PersonLocaleMiddleware:
    """Speaks a signed-in person's saved language and shows dates in their zone; the order of
    precedence is written in accounts.locale. After AuthenticationMiddleware (it reads the user)
    and LocaleMiddleware (whose Accept-Language and cookie choice it may replace). A token
    client is authenticated later, by DRF: accounts.tokens.ApiTokenAuthentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from accounts.locale import language_cookie_set, request_time_zone, user_language

        user = request.user
        saved_language = user_language(user=user) if user.is_authenticated and user.language else None
        if saved_language:
            translation.activate(saved_language)
            request.LANGUAGE_CODE = saved_language
        with timezone.override(zoneinfo.ZoneInfo(request_time_zone(request=request))):
            response = self.get_response(request)
        # Signing out keeps the language: the browser remembers what the account says (read
        # again: the view may have just changed it, or signed the person out).
        signed_in = request.user.is_authenticated and request.user.language
        account_language = user_language(user=request.user) if signed_in else None
        if (
            account_language
            and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != account_language
            and settings.LANGUAGE_COOKIE_NAME not in response.cookies
        ):
            language_cookie_set(response, account_language)
        return response


def request_body_too_large_message() -> str:
    limit_mb = settings.LIKENESS_MAX_REQUEST_BODY_BYTES / 1_048_576
    return _("This request is too large: send at most %(limit)s MB at a time.") % {"limit": f"{limit_mb:.0f}"}


class RequestBodyLimitMiddleware:
    """Refuses a request body over LIKENESS_MAX_REQUEST_BODY_BYTES with a 413, before anything reads it.

    A body that says its length is judged by it, unread. One that does not (chunked) is read
    here, into a file that spools to disk, and cut off at the limit; under it, the request
    goes on with the length now known, so the parsers read it as any other.
    The limit fits the largest legitimate request: LIKENESS_MAX_FILES_PER_REQUEST photos of
    LIKENESS_MAX_UPLOAD_BYTES each. Early in MIDDLEWARE, so no session or CSRF check reads it first.
    """

    CHUNK_BYTES = 64 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.LIKENESS_MAX_REQUEST_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # Django reads an unreadable length as none
            if too_large:
                return self._refusal()
        elif not self._take_undeclared_body(request, limit=limit):
            return self._refusal()
        return self.get_response(request)

    def _take_undeclared_body(self, request, *, limit: int) -> bool:
        """Read a body of no stated length up to the limit; False when it runs past it."""
        environ = getattr(request, "environ", {})
        # Under WSGI Django reads nothing of a body without a length, unless the server says
        # its input ends where the body does (gunicorn does); under ASGI it is the spooled body.
        source = environ["wsgi.input"] if environ.get("wsgi.input_terminated") else request._stream
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
        size = 0
        while chunk := source.read(self.CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                body.close()
                return False
            body.write(chunk)
        body.seek(0)
        request._stream = body
        if size:
            request.META["CONTENT_LENGTH"] = str(size)
        return True

    def _refusal(self):
        return json_error(status=413, code="too_large", message=request_body_too_large_message())
