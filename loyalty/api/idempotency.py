"""``Idempotency-Key`` on writes: the first response is kept and replayed byte for byte.

The request runs in one transaction (``core.db.unit_of_work``: no savepoints inside), and its
key's row is inserted at the end of it, with the response, in one statement
(``INSERT … ON CONFLICT DO NOTHING``). A second request with the same key that reaches the
insert while the first is still open blocks on the unique index until the first commits
(then its insert does nothing: it rolls its own work back and replays the stored response)
or rolls back (then its own insert wins). A request that fails because a concurrent one with
its key committed first (a receipt number or ledger key already taken) answers with that
stored response too. So two requests never both act. An error response is not stored — the
transaction that would have stored it rolled back, nothing was written — so a retry after
fixing the cause is allowed. A retry of a request that succeeded runs again up to the insert
and is rolled back; the ledger's own keys make that run a cheap replay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.renderers import JSONRenderer

from core import errors
from core.db import unit_of_work
from core.retention import delete_in_chunks
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


class _Taken(Exception):
    """The key's row exists: roll this request's work back and answer from the row."""


def _record_insert(outlet: Outlet, key: str, fingerprint: str, response: HttpResponse) -> bool:
    """Store the response under the key; False if the key's row exists (nothing written)."""
    table = connection.ops.quote_name(IdempotentRequest._meta.db_table)
    key_column = connection.ops.quote_name("key")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (outlet_id, {key_column}, request_hash, status_code,"
            " response_body, created_at) VALUES (%s, %s, %s, %s, %s, %s)"
            f" ON CONFLICT (outlet_id, {key_column}) DO NOTHING",
            [
                outlet.pk,
                key,
                fingerprint,
                response.status_code,
                response.content,
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        return cursor.rowcount == 1


def _replay(outlet: Outlet, key: str, fingerprint: str) -> HttpResponse | None:
    record = IdempotentRequest.objects.filter(outlet=outlet, key=key).first()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise errors.IdempotencyKeyReused()
    return HttpResponse(
        bytes(record.response_body), status=record.status_code, content_type=CONTENT_TYPE
    )


def idempotent_response(
    request, *, outlet: Outlet, required: bool, act: Callable[[str | None], tuple[int, dict]]
) -> HttpResponse:
    """Run ``act(key)`` once per (outlet, key); replay its response for the same request.

    Raises IdempotencyKeyReused when the key came with a different request, ValidationFailed
    when a required key is missing; whatever ``act`` raises rolls everything back.
    """
    key = idempotency_key(request, required=required)
    if key is None:
        with unit_of_work():
            return render(*act(None))
    fingerprint = request_fingerprint(request)
    try:
        with unit_of_work():
            response = render(*act(key))
            if not _record_insert(outlet, key, fingerprint, response):
                raise _Taken
            return response
    except _Taken:
        pass
    except Exception:
        # Rolled back. If a request with this key committed meanwhile, that is the answer.
        stored = _replay(outlet, key, fingerprint)
        if stored is None:
            raise
        return stored
    stored = _replay(outlet, key, fingerprint)
    assert stored is not None  # the insert found the row; rows are never deleted meanwhile
    return stored


def idempotency_keys_purge(*, now) -> int:
    """Delete keys older than ``RETENTION_IDEMPOTENCY_DAYS`` (retention); returns rows.

    A retry after that long acts again: POS software retries within minutes, not months.
    """
    cutoff = now - timedelta(days=settings.RETENTION_IDEMPOTENCY_DAYS)
    return delete_in_chunks(IdempotentRequest.objects.filter(created_at__lt=cutoff))
