"""The reports' scheduled job: the nightly refresh of the daily aggregates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from core.runs import RunHandle, job_run
from reports.services import aggregates_refresh


def day_key(now: datetime) -> str:
    """The calendar day of ``now`` in the site's zone (the one beat's crontabs use)."""
    return now.astimezone(ZoneInfo(settings.TIME_ZONE)).date().isoformat()


def aggregates_job(*, now: datetime) -> RunHandle:
    """Nightly: store yesterday and every day touched since the last run; once per day."""
    with job_run("reports.aggregate_days", day_key(now), now=now) as run:
        if not run.skipped:
            result = aggregates_refresh(now=now)
            run.rows = result.days
            run.details = {
                "programs": result.programs,
                "days": result.days,
                "months": result.months,
                "member_rows": result.member_rows,
                **{f"days:{code}": n for code, n in result.details.items()},
            }
    return run
