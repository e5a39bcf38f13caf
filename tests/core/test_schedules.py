"""System schedules are upserted by name: created once, staff edits kept, task paths corrected."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from core.schedule import SYSTEM_SCHEDULES
from core.sync import schedules_sync

pytestmark = pytest.mark.django_db

NAMES = {s.name for s in SYSTEM_SCHEDULES}


def test_migrate_created_every_system_schedule_with_expires():
    # post_migrate ran the sync when the test database was built (or flushed)
    tasks = {t.name: t for t in PeriodicTask.objects.filter(name__in=NAMES)}
    assert set(tasks) == NAMES
    for spec in SYSTEM_SCHEDULES:
        task = tasks[spec.name]
        assert task.task == spec.task
        assert task.expire_seconds == spec.expires
        assert task.crontab.minute == spec.crontab["minute"]
        assert task.enabled


def test_every_scheduled_task_exists():
    from config.celery import app

    app.loader.import_default_modules()
    assert {s.task for s in SYSTEM_SCHEDULES} <= set(app.tasks)


def test_sync_is_idempotent_and_never_recreates():
    before = dict(PeriodicTask.objects.filter(name__in=NAMES).values_list("name", "pk"))
    result = schedules_sync()
    again = schedules_sync()
    assert result.created == [] and again.created == [] and again.updated == []
    assert dict(PeriodicTask.objects.filter(name__in=NAMES).values_list("name", "pk")) == before


def test_staff_edits_to_times_expires_and_enabled_are_kept():
    task = PeriodicTask.objects.get(name="ledger: reconcile")
    staff_time, _ = CrontabSchedule.objects.get_or_create(
        minute="45", hour="5", timezone="Europe/Moscow"
    )
    task.crontab = staff_time
    task.expire_seconds = 60
    task.enabled = False
    task.save()
    schedules_sync()
    task.refresh_from_db()
    assert (task.crontab_id, task.expire_seconds, task.enabled) == (staff_time.pk, 60, False)


def test_a_changed_task_path_is_corrected_and_a_deleted_entry_recreated():
    PeriodicTask.objects.filter(name="ledger: expire points").update(task="old.path")
    PeriodicTask.objects.filter(name="ledger: reconcile").delete()
    result = schedules_sync()
    assert result.updated == ["ledger: expire points"]
    assert result.created == ["ledger: reconcile"]
    assert PeriodicTask.objects.get(name="ledger: expire points").task == "ledger.points_expire"


def test_the_command_reports_what_it_did():
    PeriodicTask.objects.filter(name="ledger: reconcile").delete()
    out = StringIO()
    call_command("sync_schedules", stdout=out)
    assert "created: ledger: reconcile" in out.getvalue()
    assert f"1 created, 0 updated, {len(NAMES) - 1} unchanged" in out.getvalue()
