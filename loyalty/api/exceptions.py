"""The one exception handler of the POS API: every error as ``{"code", "detail", "fields"?}``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import errors

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
