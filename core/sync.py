"""Upsert the system schedule (core/schedule.py) into django-celery-beat, by name."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction

from core.schedule import SYSTEM_SCHEDULES, SystemSchedule

logger = logging.getLogger(__name__)

CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _crontab(schedule: SystemSchedule, using: str):
    from django_celery_beat.models import CrontabSchedule

    values = {name: schedule.crontab.get(name, "*") for name in CRONTAB_FIELDS}
    found = (
        CrontabSchedule.objects.using(using)
        .filter(timezone=settings.CELERY_TIMEZONE, **values)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found
    return CrontabSchedule.objects.using(using).create(timezone=settings.CELERY_TIMEZONE, **values)


def schedules_sync(
    *, schedules: tuple[SystemSchedule, ...] = SYSTEM_SCHEDULES, using: str = DEFAULT_DB_ALIAS
) -> SyncResult:
    """Create the missing system entries; correct the task path of existing ones.

    Never deletes, never touches times, ``expires`` or ``enabled`` of an existing entry (staff
    own those once the entry exists). Safe to run any number of times.
    """
    from django_celery_beat.models import PeriodicTask

    result = SyncResult()
    with transaction.atomic(using=using):
        existing = {
            task.name: task
            for task in PeriodicTask.objects.using(using)
            .select_for_update()
            .filter(name__in=[s.name for s in schedules])
        }
        for schedule in schedules:
            task = existing.get(schedule.name)
            if task is None:
                PeriodicTask.objects.using(using).create(
                    name=schedule.name,
                    task=schedule.task,
                    crontab=_crontab(schedule, using),
                    expire_seconds=schedule.expires,
                    kwargs=json.dumps(schedule.kwargs),
                    description=schedule.description,
                )
                result.created.append(schedule.name)
            elif task.task != schedule.task:
                task.task = schedule.task
                task.save(update_fields=["task"])
                result.updated.append(schedule.name)
            else:
                result.unchanged.append(schedule.name)
    return result


def sync_after_migrate(sender, using=DEFAULT_DB_ALIAS, verbosity=1, **kwargs) -> None:
    result = schedules_sync(using=using)
    if verbosity >= 2 and (result.created or result.updated):
        print(f"  System schedules: created {result.created}, updated {result.updated}")
