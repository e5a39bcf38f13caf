"""The ledger's nightly jobs as beat runs them: reconcile alerts staff; runs show in the admin;
the Celery app is wired as the issue asks (acks late, time limits, database scheduler)."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from core.models import Alert, JobRun
from loyalty.ledger.jobs import reconcile_job
from loyalty.ledger.models import Account
from tests.factories import AccountFactory, ProgramFactory
from tests.ledger.helpers import grant

pytestmark = pytest.mark.django_db


def test_a_clean_nightly_reconcile_records_its_run_and_alerts_nobody(now, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    grant(AccountFactory(program=ProgramFactory()), 10, now)
    run = reconcile_job(now=now)
    assert run.details == {"discrepancies": 0}
    assert not Alert.objects.exists() and mail.outbox == []
    assert JobRun.objects.get(job="ledger.reconcile").status == "succeeded"


def test_a_broken_invariant_raises_an_alert_row_and_mails_the_admins(now, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    account = AccountFactory(program=ProgramFactory())
    grant(account, 10, now)
    Account.objects.filter(pk=account.pk).update(available=Decimal("50"))

    run = reconcile_job(now=now)
    second = reconcile_job(now=now)  # the same night: nothing new

    alert = Alert.objects.get()
    assert run.details == {"discrepancies": 2} and second.skipped
    assert alert.source == "ledger.reconcile" and f"account {account.pk}" in alert.details
    assert alert.data == {"accounts": [account.pk]}
    (email,) = mail.outbox
    assert email.to == ["ops@example.com"]
    assert "Ledger reconcile found 2 discrepancies" in email.subject
    assert f"account {account.pk}: invariant 1" in email.body


def test_job_runs_and_alerts_are_visible_in_the_admin_and_read_only(admin_client, now):
    account = AccountFactory(program=ProgramFactory())
    grant(account, 10, now)
    Account.objects.filter(pk=account.pk).update(available=Decimal("1"))
    reconcile_job(now=now)
    runs = admin_client.get(reverse("admin:core_jobrun_changelist")).content.decode()
    alerts = admin_client.get(reverse("admin:core_alert_changelist")).content.decode()
    assert "ledger.reconcile" in runs
    assert "Ledger reconcile found" in alerts
    run = JobRun.objects.get()
    assert admin_client.post(reverse("admin:core_jobrun_delete", args=[run.pk])).status_code == 403


def test_the_celery_app_carries_the_settings_and_finds_every_task():
    from config.celery import app

    app.loader.import_default_modules()
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit > conf.task_soft_time_limit > 0
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    dispatch = app.tasks["notifications.messages_dispatch"]
    # The only I/O task retries with exponential backoff when the database drops under it.
    assert dispatch.retry_backoff and dispatch.max_retries == 5
    assert {"ledger.points_expire", "ledger.tiers_reevaluate", "ledger.reconcile"} <= set(app.tasks)


def test_the_expiry_task_runs_through_celery_and_records_its_run(now):
    from loyalty.ledger.tasks import points_expire

    details = points_expire.apply().get()  # the task body, eagerly, with the real clock
    assert set(details) == {"accounts", "lots", "points"}
    assert JobRun.objects.filter(job="ledger.points_expire").count() == 1
    points_expire.apply().get()  # beat fired twice within the hour: the period ran already
    assert JobRun.objects.filter(job="ledger.points_expire").count() == 1
