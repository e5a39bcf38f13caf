"""``Idempotency-Key`` on writes: the first response is kept and replayed byte for byte.

The key's row is inserted in the transaction of the write it guards. A second request with
the same key blocks on the unique index until the first commits (then it replays the stored
response) or rolls back (then it acts itself): two requests never both act. An error response
is not stored — the transaction that would have stored it rolled back, nothing was written —
so a retry after fixing the cause is allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.renderers import JSONRenderer

from core import errors
from loyalty.api.models import IdempotentRequest
from loyalty.rules.models import Outlet

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 100
CONTENT_TYPE = "application/json"


def request_fingerprint(request) -> str:
    """SHA-256 of the method, the path and the body as parsed (key order and spacing ignored)."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotency_key(request, *, required: bool) -> str | None:
    key = request.headers.get(HEADER)
    if key is None or not key.strip():
        if required:
            message = _("This request needs an Idempotency-Key header.")
            raise errors.ValidationFailed(message, fields={HEADER: [message]})
        return None
    if len(key) > MAX_KEY_LENGTH:
        message = _("At most %(n)d characters.") % {"n": MAX_KEY_LENGTH}
        raise errors.ValidationFailed(message, fields={HEADER: [message]})
    return key


def render(status: int, data) -> HttpResponse:
    return HttpResponse(JSONRenderer().render(data), status=status, content_type=CONTENT_TYPE)


def idempotent_response(
    request, *, outlet: Outlet, required: bool, act: Callable[[str | None], tuple[int, dict]]
) -> HttpResponse:
    """Run ``act(key)`` once per (outlet, key); replay its response for the same request.

    Raises IdempotencyKeyReused when the key came with a different request, ValidationFailed
    when a required key is missing; whatever ``act`` raises rolls everything back.
    """
    key = idempotency_key(request, required=required)
    if key is None:
        with transaction.atomic():
            return render(*act(None))
    fingerprint = request_fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    outlet=outlet, key=key, request_hash=fingerprint, created_at=timezone.now()
                )
        except IntegrityError:
            record = IdempotentRequest.objects.select_for_update().get(outlet=outlet, key=key)
            if record.request_hash != fingerprint:
                raise errors.IdempotencyKeyReused() from None
            return HttpResponse(
                bytes(record.response_body), status=record.status_code, content_type=CONTENT_TYPE
            )
        response = render(*act(key))
        record.status_code, record.response_body = response.status_code, response.content
        record.save(update_fields=["status_code", "response_body"])
        return response


def idempotency_keys_purge(*, now) -> int:
    """Delete keys older than ``RETENTION_IDEMPOTENCY_DAYS`` (retention); returns rows.

    A retry after that long acts again: POS software retries within minutes, not months.
    """
    from datetime import timedelta

    from django.conf import settings

    from core.retention import delete_in_chunks

    cutoff = now - timedelta(days=settings.RETENTION_IDEMPOTENCY_DAYS)
    return delete_in_chunks(IdempotentRequest.objects.filter(created_at__lt=cutoff))
