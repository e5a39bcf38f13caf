"""The outbox's scheduled jobs, recorded through core.runs.job_run."""

from __future__ import annotations

from datetime import datetime

from core.runs import RunHandle, job_run
from loyalty.ledger.jobs import day_key
from notifications.reminders import expiry_reminders_send
from notifications.services import messages_dispatch


def expiry_reminders_job(*, now: datetime) -> RunHandle:
    with job_run("notifications.expiry_reminders", day_key(now), now=now) as run:
        if not run.skipped:
            result = expiry_reminders_send(now=now)
            run.rows = result.messages
            run.details = {"customers": result.customers, "messages": result.messages}
    return run


def dispatch_job(*, now: datetime, batch_size: int | None = None) -> RunHandle:
    """The dispatcher as a recorded job: a run is kept only if it touched messages."""
    with job_run("notifications.messages_dispatch", now=now, quiet=True) as run:
        result = messages_dispatch(now=now, batch_size=batch_size)
        run.rows = result.touched
        run.details = {
            name: getattr(result, name)
            for name in ("claimed", "sent", "retried", "failed", "skipped", "deferred", "lost")
        }
    return run
