"""The POS API's JSON parser: bounded in size and depth, exact in its numbers.

DRF's own parser reads the socket without Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check, lets
Python's recursive decoder raise RecursionError on ``[[[[…]]]]`` (a 500), and turns
``250.10`` into a float. This one refuses a body over the limit (413 ``payload_too_large``)
and one nested deeper than ``MAX_DEPTH`` (400), and reads JSON numbers with a fraction or an
exponent as ``Decimal``.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

# The deepest body the contract has is three levels (body → lines → line); room to spare.
MAX_DEPTH = 16


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


def max_body_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(data) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return None
        limit = max_body_bytes()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge()
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = raw.decode(encoding)
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except RecursionError:
            raise exceptions.ParseError(_("nested too deeply")) from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise exceptions.ParseError(str(exc)) from None
        if _too_deep(data):
            raise exceptions.ParseError(
                _("nested deeper than %(depth)d levels") % {"depth": MAX_DEPTH}
            )
        return data
