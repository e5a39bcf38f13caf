"""Telling staff: an Alert row in the admin and an email to ADMINS."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.core.mail import mail_admins

from core.models import Alert, AlertLevel

logger = logging.getLogger(__name__)

MAX_LINES = 200


def alert_raise(
    *,
    source: str,
    title: str,
    lines: Sequence[str],
    now: datetime,
    level: str = AlertLevel.ERROR,
    data: dict | None = None,
) -> Alert:
    """Record an alert and mail the admins.

    The row is the durable record: a mail failure is logged, never raised, so the job that
    found the problem still finishes and records its run.
    """
    shown = list(lines[:MAX_LINES])
    if len(lines) > MAX_LINES:
        shown.append(f"… and {len(lines) - MAX_LINES} more")
    details = "\n".join(shown)
    alert = Alert.objects.create(
        source=source, level=level, title=title, details=details, data=data or {}, created_at=now
    )
    try:
        mail_admins(f"[{source}] {title}", details)
    except Exception:
        logger.exception("could not mail the admins about alert %s", alert.pk)
    return alert


def alert_acknowledge(*, alert_ids: Sequence[int], user, now: datetime) -> int:
    return Alert.objects.filter(pk__in=list(alert_ids), acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=user
    )
