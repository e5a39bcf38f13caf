"""Celery door of the reports' scheduled job (database only, so not auto-retried)."""

from celery import shared_task
from django.utils import timezone

from reports import jobs


@shared_task(name="reports.aggregate_days")
def aggregate_days() -> dict:
    return jobs.aggregates_job(now=timezone.now()).details
