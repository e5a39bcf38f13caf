"""Celery doors for the outbox: read the clock, call one job."""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from notifications import jobs


# Sending failures are handled per message by the outbox (attempts, backoff, lease); the task
# itself retries only when the database connection fails under it.
@shared_task(
    name="notifications.messages_dispatch",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def messages_dispatch(*, batch_size: int | None = None) -> dict:
    return jobs.dispatch_job(now=timezone.now(), batch_size=batch_size).details


@shared_task(name="notifications.expiry_reminders")
def expiry_reminders() -> dict:
    return jobs.expiry_reminders_job(now=timezone.now()).details
