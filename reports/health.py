"""Programme health for the admin's home page: a handful of aggregate queries, never per row.

Per programme: members, checks since the programme's local midnight, points outstanding
(available + pending across its accounts). Across the installation: job runs that failed in
the last day and alerts nobody has acknowledged. The count of queries does not grow with the
number of programmes (one query per distinct programme time zone for today's checks, and an
installation normally has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Sum

from core.models import Alert, JobRun, JobStatus
from loyalty.ledger.models import NOT_PURCHASES, Account, Check
from loyalty.rules.models import Program

ZERO = Decimal("0")


@dataclass(frozen=True)
class ProgrammeHealth:
    id: int
    code: str
    name: str
    currency: str
    is_active: bool
    precision: int
    members: int
    checks_today: int
    outstanding_points: Decimal


@dataclass(frozen=True)
class InstallationHealth:
    programmes: list[ProgrammeHealth]
    failed_job_runs: int  # in the last 24 hours
    open_alerts: int


def _local_midnight(now: datetime, timezone_name: str) -> datetime:
    try:
        zone = ZoneInfo(timezone_name)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def installation_health(*, now: datetime) -> InstallationHealth:
    """Each programme's health (active ones first, then by name) and the jobs' state."""
    programmes = list(
        Program.objects.order_by("-is_active", "name", "pk").values(
            "pk", "code", "name", "currency", "is_active", "precision", "timezone"
        )
    )
    accounts = {
        row["program_id"]: row
        for row in Account.objects.order_by()
        .values("program_id")
        .annotate(members=Count("pk"), outstanding=Sum(F("available") + F("pending")))
    }
    checks: dict[int, int] = {}
    by_zone: dict[str, list[int]] = {}
    for programme in programmes:
        by_zone.setdefault(programme["timezone"], []).append(programme["pk"])
    for zone, ids in by_zone.items():
        rows = (
            Check.objects.filter(
                program_id__in=ids,
                occurred_at__gte=_local_midnight(now, zone),
                occurred_at__lte=now,
            )
            .exclude(status__in=NOT_PURCHASES)
            .order_by()
            .values("program_id")
            .annotate(n=Count("pk"))
        )
        checks.update({row["program_id"]: row["n"] for row in rows})
    rows = [
        ProgrammeHealth(
            id=p["pk"],
            code=p["code"],
            name=p["name"],
            currency=p["currency"],
            is_active=p["is_active"],
            precision=p["precision"],
            members=accounts.get(p["pk"], {}).get("members", 0),
            checks_today=checks.get(p["pk"], 0),
            outstanding_points=accounts.get(p["pk"], {}).get("outstanding") or ZERO,
        )
        for p in programmes
    ]
    return InstallationHealth(
        programmes=rows,
        failed_job_runs=JobRun.objects.filter(
            status=JobStatus.FAILED, started_at__gte=now - timedelta(days=1)
        ).count(),
        open_alerts=Alert.objects.filter(acknowledged_at__isnull=True).count(),
    )
