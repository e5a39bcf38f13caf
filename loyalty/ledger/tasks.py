"""Celery doors for the ledger's scheduled jobs: no arguments, read the clock, call the job.

The jobs are database-only (no network I/O), so they are not auto-retried: a failure is
recorded on the JobRun row and the next scheduled run (or a manual one) takes the period over.
"""

from celery import shared_task
from django.utils import timezone

from loyalty.ledger import jobs


@shared_task(name="ledger.points_expire")
def points_expire() -> dict:
    return jobs.expiry_job(now=timezone.now()).details


@shared_task(name="ledger.reservations_release")
def reservations_release() -> dict:
    return jobs.reservations_job(now=timezone.now()).details


@shared_task(name="ledger.tiers_reevaluate")
def tiers_reevaluate() -> dict:
    return jobs.tiers_job(now=timezone.now()).details


@shared_task(name="ledger.reconcile")
def reconcile() -> dict:
    return jobs.reconcile_job(now=timezone.now()).details
