"""The language and time zone a person reads in, and which one wins where.

Pages (the site, and the API when the site's own scripts call it with the session):
  1. a signed-in customer's saved language (User.language: set by the switcher and the
     account page, or captured from the language they signed in with);
  2. the language cookie the switcher sets for a visitor not signed in (and the site sets
     on sign-in, so signing out keeps the language);
  3. the browser's Accept-Language (LocaleMiddleware);
  4. settings.LANGUAGE_CODE (LIKENESS_DEFAULT_LANGUAGE).
  A choice the person made on this site beats what their browser guesses.

The API with a token: the request's Accept-Language when it sends one, else the saved
language. A token client is a program; one that sends Accept-Language says, per call, what its
user reads (an app passes its phone's language), while curl and scripts send none and get the
language their owner chose on the site.

Time zones: the saved one (User.time_zone), else the browser's (a cookie static/js/time-zone.js
writes from the Intl API), else settings.LIKENESS_DEFAULT_TIME_ZONE. Mail a worker sends later
uses the saved language and zone (accounts.mail), so both are captured at sign-in.
"""

from __future__ import annotations

import zoneinfo
from contextlib import contextmanager
from functools import lru_cache

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from portrait_site.core.errors import ApplicationError

TIME_ZONE_COOKIE = "likeness_time_zone"


class LocaleChoiceInvalid(ApplicationError):
    code = "invalid"
    http_status = 400


def language_supported(code: str | None) -> str | None:
    """The code as settings.LANGUAGES spells it ("zh-Hans" -> "zh-hans"), or None."""
    if not code:
        return None
    wanted = code.strip().lower().replace("_", "-")
    return wanted if wanted in dict(settings.LANGUAGES) else None


@lru_cache(maxsize=1)
def time_zones_available() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def time_zone_valid(name: str | None) -> str | None:
    if not name or len(name) > 64:
        return None
    return name if name in time_zones_available() else None


def language_cookie_set(response, language: str) -> None:
    """Django's language cookie, as LocaleMiddleware reads it: the switcher's choice, and the
    account's, so the language stays after signing out."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language,
        max_age=settings.LANGUAGE_COOKIE_AGE, path=settings.LANGUAGE_COOKIE_PATH,
        secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def user_language(*, user: User) -> str:
    return language_supported(user.language) or settings.LANGUAGE_CODE


def user_time_zone(*, user: User) -> str:
    return time_zone_valid(user.time_zone) or settings.LIKENESS_DEFAULT_TIME_ZONE


def request_time_zone(*, request) -> str:
    """The zone for this request's pages: the person's saved one, else their browser's."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and time_zone_valid(user.time_zone):
        return user.time_zone
    return time_zone_valid(request.COOKIES.get(TIME_ZONE_COOKIE)) or settings.LIKENESS_DEFAULT_TIME_ZONE


def user_locale_set(*, user: User, language: str | None = None, time_zone: str | None = None) -> User:
    """Save the person's own choice (the switcher, the account page). None leaves a field as it is."""
    fields = []
    if language is not None:
        supported = language_supported(language)
        if supported is None:
            raise LocaleChoiceInvalid(_("We don't have that language."), fields={"language": ["unsupported"]})
        user.language = supported
        fields.append("language")
    if time_zone is not None:
        if time_zone_valid(time_zone) is None:
            raise LocaleChoiceInvalid(
                _("Pick a time zone from the list, like Asia/Shanghai."), fields={"time_zone": ["unknown"]}
            )
        user.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        user.save(update_fields=fields)
    return user


def user_locale_capture(*, user: User, language: str | None, time_zone: str | None) -> None:
    """At sign-in: remember the language the person is reading and their browser's zone, where
    nothing is saved yet, so mail sent later by a worker reads like the site did. A saved
    choice is never overwritten by a guess."""
    fields = []
    if not language_supported(user.language) and language_supported(language):
        user.language = language_supported(language)
        fields.append("language")
    if not time_zone_valid(user.time_zone) and time_zone_valid(time_zone):
        user.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        user.save(update_fields=fields)


@contextmanager
def locale_override(*, language: str, time_zone: str):
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo(time_zone)):
        yield


def user_locale_override(*, user: User):
    """The person's language and zone, for rendering something outside their request (mail)."""
    return locale_override(language=user_language(user=user), time_zone=user_time_zone(user=user))
