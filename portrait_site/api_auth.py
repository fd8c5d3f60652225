"""The API's token authentication, in a module of its own: DRF imports its authentication
classes while it loads its settings, before portrait_site.api can be imported."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone, translation
from rest_framework import authentication


class LocaleTokenAuthentication(authentication.TokenAuthentication):
    """Token authentication that then speaks the token owner's saved language when the call
    sends no Accept-Language, and shows their time zone (accounts.locale says why). DRF
    authenticates inside the view, after every middleware, so this is where the token's
    person is first known. PersonLocaleMiddleware restores the zone after the response."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            from accounts.locale import user_language, user_time_zone

            user = result[0]
            if "HTTP_ACCEPT_LANGUAGE" not in request.META:
                language = user_language(user=user)
                translation.activate(language)
                request._request.LANGUAGE_CODE = language
            timezone.activate(zoneinfo.ZoneInfo(user_time_zone(user=user)))
        return result
