"""What every /api/v1/ endpoint shares: the error body, ownership checks, throttles, the schema.

Lists are paged by DRF's PageNumberPagination (REST_FRAMEWORK["PAGE_SIZE"]).

Every error answers {"error": {"code": ..., "message": ..., "fields": {...}}}: a
machine code for the app, a sentence for the person, and per-field messages
when the input was at fault.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, permissions, serializers, status, throttling
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portrait_site.core.errors import ApplicationError

logger = logging.getLogger(__name__)

DEFAULT_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
    status.HTTP_503_SERVICE_UNAVAILABLE: "unavailable",
}


def error_response(
    *, status_code: int, code: str, message: str, fields: dict | None = None, headers: dict | None = None
) -> Response:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=status_code, headers=headers)


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
        return gettext("The request is not valid.")
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else gettext("The request is not valid.")
    return str(detail)


def _field_messages(detail) -> dict:
    """DRF's nested error detail, flattened to lists of plain strings per field."""
    if isinstance(detail, dict):
        return {str(key): _field_messages(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [str(item) for item in detail]
        return [_field_messages(item) for item in detail]
    return [str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        # The services' refusals: their messages are written for people, so they pass through.
        return error_response(
            status_code=exc.http_status, code=exc.code, message=exc.message, fields=exc.fields,
            headers=exc.response_headers(),
        )
    if isinstance(exc, DjangoValidationError):
        return error_response(status_code=400, code="invalid", message=" ".join(exc.messages))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(gettext("Not found: it does not exist, or it is not yours."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    headers = {
        key: value
        for key, value in response.headers.items()
        if key in ("WWW-Authenticate", "Retry-After", "Allow")
    }
    code = DEFAULT_CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_response(
            status_code=response.status_code,
            code="invalid",
            message=_first_message(detail),
            fields=_field_messages(detail),
            headers=headers,
        )
    if isinstance(exc, exceptions.APIException):
        message = _first_message(exc.detail)
        if isinstance(exc, exceptions.Throttled):
            message = (
                gettext("Too many requests. Try again in %(seconds)s seconds.") % {"seconds": f"{exc.wait:.0f}"}
                if exc.wait
                else gettext("Too many requests. Try again in a moment.")
            )
        elif isinstance(exc, exceptions.NotAuthenticated):
            message = gettext("Sign in first: send a session cookie or an 'Authorization: Token <key>' header.")
        return error_response(status_code=response.status_code, code=code, message=message, headers=headers)
    return response


# --- Ownership ------------------------------------------------------------------


class IsOwner(permissions.BasePermission):
    """The second lock after the owner-filtered querysets: the object must be the user's own."""

    message = gettext_lazy("Not found: it does not exist, or it is not yours.")

    def has_object_permission(self, request, view, obj) -> bool:
        owner_id = getattr(obj, "user_id", None)
        if owner_id is None and hasattr(obj, "avatar"):
            owner_id = obj.avatar.user_id
        if owner_id is None or owner_id != request.user.pk:
            # Someone else's object does not exist for this user: 404, never 403.
            raise exceptions.NotFound(self.message)
        return True


# --- Throttles -------------------------------------------------------


class WriteScopedRateThrottle(throttling.ScopedRateThrottle):
    """ScopedRateThrottle that counts only writes, so reading a list never uses up uploads or votes.

    Its counts live in Django's default cache: Redis when REDIS_URL is set, so every
    process shares them.
    """

    def allow_request(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return super().allow_request(request, view)


# --- Schema helpers -------------------------------------------------------------------

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(required=False),
            },
        )
    },
)


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=DEFAULT_CODES.get(code, "error"))
        for code in status_codes
    }


# --- Private files ----------------------------------------------------------------------


class PrivateFileView:
    """For endpoints that stream a private file: any Accept header gets the file, errors stay JSON."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


# --- Schema ------------------------------------------------------------------------------


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the error answers each operation can give written down."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        for code in self._error_codes():
            responses.setdefault(
                str(code), self._get_response_for_code(ErrorSerializer, str(code), direction=direction)
            )
        return responses

    def _error_codes(self) -> list[int]:
        writes = self.method not in permissions.SAFE_METHODS
        public = any(
            isinstance(permission, permissions.AllowAny)
            or (isinstance(permission, permissions.IsAuthenticatedOrReadOnly) and not writes)
            for permission in self.view.get_permissions()
        )
        codes = []
        if writes or self._is_list_view():
            codes.append(400)
        if not public:
            codes += [401, 403]
        if "{" in self.path or self._is_list_view():
            codes.append(404)
        if writes and not public:
            codes.append(409)
        if getattr(self.view, "throttle_scope", None):
            codes.append(429)
        return codes


def schema_bound_path_integers(result, generator, request, public):
    """Integer ids in paths are non-negative 64-bit numbers: the URL converter takes nothing else."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("schema", {}).get("type") == "integer":
                    parameter["schema"].update({"minimum": 0, "maximum": 2**63 - 1})
    return result
