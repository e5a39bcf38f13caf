"""The one exception handler of the POS API: every error as ``{"code", "detail", "fields"?}``."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import errors
from loyalty.api.parsers import PayloadTooLarge

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

# DRF's own exceptions → the codes docs/api.md names (and plain HTTP ones for the rest).
_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ParseError, "validation_error"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
    (PayloadTooLarge, "payload_too_large"),
]


def flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → ``{"lines[0].quantity": ["…"]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            path = f"{prefix}.{name}" if prefix else str(name)
            if isinstance(name, int):  # a list's errors keyed by position
                path = f"{prefix}[{name}]"
            if name == "non_field_errors":
                path = prefix or "non_field_errors"
            for key, messages in flatten_fields(value, path).items():
                out.setdefault(key, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for i, item in enumerate(detail):
                if item:
                    out.update(flatten_fields(item, f"{prefix}[{i}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def envelope(code: str, detail: str, fields: dict | None = None) -> dict:
    body = {"code": code, "detail": str(detail)}
    if fields:
        body["fields"] = fields
    return body


def _first_field_detail(fields: dict[str, list[str]]) -> str | None:
    first = next(iter(fields.items()), None)
    return f"{first[0]}: {first[1][0]}" if first and first[1] else None


def exception_handler(exc, context):
    if isinstance(exc, errors.DomainError):
        detail = exc.detail
        if exc.fields and detail == str(type(exc).default_detail):
            # "Invalid input." says nothing; name the field as DRF's own errors do.
            detail = _first_field_detail(exc.fields) or detail
        return Response(envelope(exc.code, detail, exc.fields), status=exc.status)
    if isinstance(exc, DataError):
        # A value the database column cannot hold (numeric overflow): the serializers bound
        # every input, so this is the backstop for a computed total. The write rolled back.
        logger.warning("API request rejected by the database: %s", exc)
        message = _("A value is out of the range the system can store.")
        return Response(
            envelope("validation_error", message, {"non_field_errors": [message]}),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug, not bad input: let it be a 500 with a traceback in the logs
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "error")
    fields = None
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        detail = _first_field_detail(fields) or _("Invalid input.")
    elif isinstance(exc, exceptions.ParseError):
        detail = _("Malformed JSON: %(error)s") % {"error": exc.detail}
    else:
        detail = exc.detail if not isinstance(exc.detail, list | dict) else str(exc.detail)
    if code == "not_authenticated":
        response.status_code = status.HTTP_401_UNAUTHORIZED
    response.data = envelope(code, str(detail), fields)
    return response


# --- Django's own error pages, as the envelope under /api/ ----------------------------------------
# Errors raised outside a DRF view (an unknown path under /api/ other than /api/v1/, a body over
# DATA_UPLOAD_MAX_MEMORY_SIZE read by middleware, a crash in the exception handler itself) reach
# these handlers (config/urls.py); elsewhere (admin, cabinet) Django's HTML pages stay.


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception, *args, **kwargs):
    if not _is_api(request):
        return defaults.bad_request(request, exception, *args, **kwargs)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            envelope("payload_too_large", str(PayloadTooLarge.default_detail)), status=413
        )
    return JsonResponse(envelope("validation_error", _("Bad request.")), status=400)


def permission_denied(request, exception, *args, **kwargs):
    if not _is_api(request):
        return defaults.permission_denied(request, exception, *args, **kwargs)
    return JsonResponse(
        envelope("permission_denied", str(exceptions.PermissionDenied.default_detail)), status=403
    )


def page_not_found(request, exception, *args, **kwargs):
    if not _is_api(request):
        return defaults.page_not_found(request, exception, *args, **kwargs)
    return JsonResponse(envelope("not_found", _("No such endpoint.")), status=404)


def server_error(request, *args, **kwargs):
    if not _is_api(request):
        return defaults.server_error(request, *args, **kwargs)
    return JsonResponse(envelope("server_error", _("Internal server error.")), status=500)
