"""Data kept no longer than it is needed: one nightly job, purges registered by their owners.

Each app registers a purge of its own rows in its ``AppConfig.ready`` (core imports nothing of
ours): the POS API its old idempotency keys, the customers app its expired one-time codes,
the outbox its old delivered messages. ``retention_job`` runs every purge once a day, recorded
through ``core.runs.job_run``; a purge deletes in chunks and is idempotent, so a second run
finds nothing left to delete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from core.runs import RunHandle, job_run

logger = logging.getLogger(__name__)

CHUNK = 1000

Purge = Callable[..., int]
_PURGES: dict[str, Purge] = {}


def retention_register(name: str, purge: Purge) -> None:
    """Register ``purge(now=...) -> rows deleted`` under ``name`` (re-registering replaces)."""
    _PURGES[name] = purge


def retention_purges() -> dict[str, Purge]:
    return dict(sorted(_PURGES.items()))


def delete_in_chunks(queryset: QuerySet, *, chunk: int = CHUNK) -> int:
    """Delete the rows of ``queryset`` by primary key, ``chunk`` per transaction."""
    deleted = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:chunk])
        if not pks:
            return deleted
        with transaction.atomic():
            queryset.model.objects.filter(pk__in=pks).delete()
        deleted += len(pks)


def _day(now: datetime) -> str:
    return now.astimezone(ZoneInfo(settings.TIME_ZONE)).date().isoformat()


def retention_job(*, now: datetime) -> RunHandle:
    """Run every registered purge once for the day of ``now``."""
    with job_run("core.retention", _day(now), now=now) as run:
        if not run.skipped:
            for name, purge in retention_purges().items():
                rows = purge(now=now)
                run.details[name] = rows
                run.rows += rows
                logger.info("retention %s: %d rows deleted", name, rows)
    return run
