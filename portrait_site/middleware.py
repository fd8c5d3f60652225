import zoneinfo

from django.conf import settings
from django.utils import timezone, translation


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
        from accounts.locale import request_time_zone, user_language

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
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, account_language,
                max_age=settings.LANGUAGE_COOKIE_AGE, path=settings.LANGUAGE_COOKIE_PATH,
                secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
