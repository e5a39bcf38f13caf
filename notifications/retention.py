"""What the outbox keeps: secrets never after delivery, delivered messages for a while.

A message that carries a secret (an event registered with ``secret=True``: the sign-up code)
has its body replaced by ``REDACTED`` as soon as it is delivered, failed for good or skipped;
the admin masks digits in it before that. The nightly retention job (core/retention.py)
deletes delivered, failed and skipped messages older than ``RETENTION_OUTBOX_DAYS``, and
secret ones after ``RETENTION_CODES_HOURS``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from core.retention import delete_in_chunks
from notifications.events import events_all
from notifications.models import Message, MessageStatus

REDACTED = "[removed after delivery]"
FINAL = (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SKIPPED)
_DIGITS = re.compile(r"\d{4,}")


def secret_events() -> list[str]:
    return [event.code for event in events_all() if event.secret]


def is_secret(event: str) -> bool:
    return event in secret_events()


def redacted(message: Message) -> dict:
    """The fields to write with a final status: the body goes if it carries a secret."""
    return {"body": REDACTED} if is_secret(message.event) else {}


def masked_body(message: Message) -> str:
    """The body as staff may read it: a secret event's numbers (the code) hidden."""
    if not is_secret(message.event):
        return message.body
    return _DIGITS.sub(lambda m: "•" * len(m.group()), message.body)


def messages_purge(*, now: datetime) -> int:
    """Delete old final messages (retention); returns rows deleted."""
    old = now - timedelta(days=settings.RETENTION_OUTBOX_DAYS)
    secret_old = now - timedelta(hours=settings.RETENTION_CODES_HOURS)
    final = Message.objects.filter(status__in=FINAL)
    return delete_in_chunks(
        final.filter(
            Q(created_at__lt=old) | Q(event__in=secret_events(), created_at__lt=secret_old)
        )
    )
