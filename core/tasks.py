"""Celery doors of core's own jobs: read the clock, call one job."""

from celery import shared_task
from django.utils import timezone

from core.retention import retention_job


@shared_task(name="core.retention")
def retention() -> dict:
    return retention_job(now=timezone.now()).details
