"""API tokens: made for an email and password, sent as 'Authorization: Token <key>', ended by
their expiry (settings.LIKENESS_API_TOKEN_DAYS), by the person on the account page or the API,
and all at once by a new password (accounts.models.User.save)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, User

# A last-used time this close to now is not written again: one write a minute per token at most.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Make a token; returns it with its key, which is never stored and cannot be shown again."""
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user,
        name=name or _("API token"),
        key_hash=_key_hash(key),
        key_prefix=key[:8],
        expires_at=timezone.now() + timedelta(days=settings.LIKENESS_API_TOKEN_DAYS),
    )
    return token, key


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """End one of the person's tokens; False when they have no such token."""
    return ApiToken.objects.filter(user=user, pk=token_id).delete()[0] > 0


def api_tokens_revoke_all(*, user: User) -> int:
    return ApiToken.objects.filter(user=user).delete()[0]


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The live token with this key, its last use noted; None for an unknown or expired key."""
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_key_hash(key), expires_at__gt=now, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's 'Authorization: Token <key>' scheme over ApiToken: request.auth is the ApiToken."""

    def authenticate_credentials(self, key):
        token = api_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        return token.user, token
