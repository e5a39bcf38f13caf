"""The ledger's scheduled jobs: expiry, reservation release, tier re-evaluation, reconcile.

Each ``*_job`` function is what the Celery task calls: it records its run through
``core.runs.job_run`` for its period (a second run for the same period does nothing) and
delegates to a service that is itself idempotent. Everything takes ``now``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from core.alerts import alert_raise
from core.runs import RunHandle, job_run
from loyalty.ledger.services.expiry import points_expire
from loyalty.ledger.services.reconcile import ledger_reconcile
from loyalty.ledger.services.reservations import reservations_release
from loyalty.ledger.services.tiers import tiers_reevaluate


def hour_key(now: datetime) -> str:
    return now.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%HZ")


def minute_key(now: datetime) -> str:
    return now.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ")


def day_key(now: datetime) -> str:
    """The calendar day of ``now`` in the site's zone (the one beat's crontabs use)."""
    return now.astimezone(ZoneInfo(settings.TIME_ZONE)).date().isoformat()


def expiry_job(*, now: datetime) -> RunHandle:
    """Hourly: expire what has expired; one run per hour."""
    with job_run("ledger.points_expire", hour_key(now), now=now) as run:
        if not run.skipped:
            result = points_expire(now=now)
            run.rows = result.lots
            run.details = {
                "accounts": result.accounts,
                "lots": result.lots,
                "points": result.points,
            }
    return run


def reservations_job(*, now: datetime) -> RunHandle:
    """Every minute: write the release of the reservations whose time is up; one run per
    minute. Their balances count the points as available already (by time alone)."""
    with job_run("ledger.reservations_release", minute_key(now), now=now) as run:
        if not run.skipped:
            result = reservations_release(now=now)
            run.rows = result.checks
            run.details = {"checks": result.checks, "points": result.points}
    return run


def tiers_job(*, now: datetime) -> RunHandle:
    """Nightly: tier re-evaluation; one run per day."""
    with job_run("ledger.tiers_reevaluate", day_key(now), now=now) as run:
        if not run.skipped:
            result = tiers_reevaluate(now=now)
            run.rows = result.upgraded + result.downgraded
            run.details = {
                "accounts": result.accounts,
                "upgraded": result.upgraded,
                "downgraded": result.downgraded,
            }
    return run


def reconcile_job(*, now: datetime) -> RunHandle:
    """Nightly: check every ledger invariant; any discrepancy is an alert to staff.

    The run itself succeeds (it did its work); what it found goes to an Alert row in the
    admin and to ADMINS by mail, and into the run's details.
    """
    with job_run("ledger.reconcile", day_key(now), now=now) as run:
        if not run.skipped:
            found = ledger_reconcile(now=now)
            run.rows = len(found)
            run.details = {"discrepancies": len(found)}
            if found:
                alert_raise(
                    source="ledger.reconcile",
                    title=f"Ledger reconcile found {len(found)} discrepancies",
                    lines=[str(d) for d in found],
                    now=now,
                    data={"accounts": sorted({d.account_id for d in found})[:1000]},
                )
    return run
