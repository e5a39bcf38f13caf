"""Recording job runs, and the once-per-period guard every scheduled job goes through.

    with job_run("ledger.expire_points", period_key="2026-06-15T03", now=now) as run:
        if run.skipped:
            return run
        result = points_expire(now=now)
        run.rows = result.lots

The claim is committed before the body starts, so another worker (or a beat backlog) that
reaches the same period sees it: a succeeded period is skipped, a running one is left to its
owner unless it is older than ``JOBS_STALE_AFTER_SECONDS`` (its worker died), a failed one is
taken over and retried. The body must be idempotent anyway: the guard narrows duplicate work,
the job's own keys make it harmless.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from core.models import JobRun, JobStatus

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 20_000


@dataclass
class RunHandle:
    """What the job body sees: whether to run, and where to put its figures."""

    job: str
    period_key: str | None
    skipped: bool = False
    reason: str = ""
    rows: int = 0
    details: dict = field(default_factory=dict)
    run: JobRun | None = None


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS)


def _claim(job: str, period_key: str, now: datetime) -> RunHandle:
    handle = RunHandle(job=job, period_key=period_key)
    try:
        with transaction.atomic():
            run = JobRun.objects.create(
                job=job, period_key=period_key, status=JobStatus.RUNNING, started_at=now
            )
        handle.run = run
        return handle
    except IntegrityError:
        run = JobRun.objects.get(job=job, period_key=period_key)
    if run.status == JobStatus.SUCCEEDED:
        handle.skipped, handle.reason = True, "already done for this period"
        return handle
    if run.status == JobStatus.RUNNING and run.started_at > now - _stale_after():
        handle.skipped, handle.reason = True, "running elsewhere"
        return handle
    # Failed, or running so long that its worker must be gone: take it over. The conditional
    # update makes exactly one of several competing workers win.
    taken = JobRun.objects.filter(pk=run.pk, status=run.status, started_at=run.started_at).update(
        status=JobStatus.RUNNING,
        started_at=now,
        finished_at=None,
        error="",
        attempts=F("attempts") + 1,
    )
    if not taken:
        handle.skipped, handle.reason = True, "taken over by another worker"
        return handle
    handle.run = JobRun.objects.get(pk=run.pk)
    return handle


@contextmanager
def job_run(
    job: str, period_key: str | None = None, *, now: datetime, quiet: bool = False
) -> Iterator[RunHandle]:
    """Record one run of ``job`` for ``period_key`` (see the module docstring).

    ``quiet`` (only without a period) records the run only if it touched rows or failed, so
    a dispatcher that runs every minute does not fill the table with empty runs.
    Must not be called inside a transaction that the body's work would then share.
    """
    if quiet and period_key is not None:
        raise ValueError("quiet runs have no period")
    started = time.monotonic()
    if period_key is None:
        handle = RunHandle(job=job, period_key=None)
        if not quiet:
            handle.run = JobRun.objects.create(job=job, status=JobStatus.RUNNING, started_at=now)
    else:
        handle = _claim(job, period_key, now)
    if handle.skipped:
        logger.info("job %s [%s] skipped: %s", job, period_key, handle.reason)
        yield handle
        return
    try:
        yield handle
    except BaseException:
        _finish(handle, now, started, JobStatus.FAILED, error=traceback.format_exc())
        raise
    _finish(handle, now, started, JobStatus.SUCCEEDED)


def _finish(handle: RunHandle, now, started: float, status: str, error: str = "") -> None:
    # The finishing instant is derived from ``now`` plus the measured duration, so tests that
    # pass a fixed ``now`` get deterministic rows and production gets the real end time.
    finished = now + timedelta(seconds=time.monotonic() - started)
    values = {
        "status": status,
        "finished_at": finished,
        "rows_touched": handle.rows,
        "details": _jsonable(handle.details),
        "error": error[-MAX_ERROR_CHARS:],
    }
    if handle.run is None:
        if not handle.rows and status == JobStatus.SUCCEEDED:
            return
        handle.run = JobRun.objects.create(job=handle.job, started_at=now, **values)
        return
    JobRun.objects.filter(pk=handle.run.pk).update(**values)
    for name, value in values.items():
        setattr(handle.run, name, value)


def _jsonable(details: dict) -> dict:
    """Figures may be Decimals or dates; the JSON column stores their text."""
    out = {}
    for key, value in details.items():
        out[key] = value if isinstance(value, int | float | str | bool | type(None)) else str(value)
    return out
