"""Writing the daily aggregates: rebuild any days, and the nightly refresh that keeps them.

Each day is written in its own transaction: the day's rows are deleted and inserted again from
``reports.selectors.days.ledger_days`` under a lock on (programme, day) — a PostgreSQL
transaction-level advisory lock; SQLite serialises writers anyway — so a re-run, a rebuild and
the nightly job may overlap and the last writer's rows are the ledger as it was then. Months
touched are recounted into ``CohortMonth`` the same way. Nothing here changes the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max
from django.db.models.functions import Greatest, TruncDate

from loyalty.ledger.models import Account, Check, Operation, OperationKind, Refund
from loyalty.rules.models import Program
from reports.models import (
    AggregationState,
    CampaignDay,
    CohortMonth,
    MemberDay,
    OutletDay,
    ProgramDay,
)
from reports.periods import Period, local_today, month_start, next_month, zone
from reports.selectors.days import ledger_days, member_rows

# Advisory lock keys of the report aggregates: (programme id, ±day ordinal) in the two-int
# form; no other part of the project takes advisory locks.


def _lock(program_id: int, key: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [program_id, key])


@dataclass
class RebuildResult:
    days: int = 0
    months: int = 0
    member_rows: int = 0


def aggregates_rebuild(
    *, program: Program, first: date, last: date, now: datetime, chunk_days: int | None = None
) -> RebuildResult:
    """Recompute and store the days ``first``..``last`` (clipped to before today).

    Reads the ledger a chunk of days at a time; writes one transaction per day; then recounts
    the closed months touched. Idempotent: a second run writes the same rows.
    """
    chunk_days = chunk_days or getattr(settings, "REPORTS_CHUNK_DAYS", 7)
    today = local_today(program, now)
    period = Period(first, last).clip(last=today - timedelta(days=1))
    result = RebuildResult()
    if period is None:
        return result
    day = period.first
    while day <= period.last:
        chunk = Period(day, min(period.last, day + timedelta(days=chunk_days - 1)))
        computed = ledger_days(program, chunk.first, chunk.last)
        members = defaultdict(list)
        for row in member_rows(program, chunk.first, chunk.last):
            members[row["day"]].append(row)
        for each in chunk.each_day():
            result.member_rows += _write_day(program, each, computed, members[each], now=now)
            result.days += 1
        day = chunk.last + timedelta(days=1)
    month = month_start(period.first)
    while month <= period.last:
        if next_month(month) <= today:
            _write_month(program, month)
            result.months += 1
        month = next_month(month)
    return result


def _write_day(program: Program, day: date, computed, members: list[dict], *, now) -> int:
    with transaction.atomic():
        _lock(program.pk, day.toordinal())
        for model in (ProgramDay, OutletDay, MemberDay, CampaignDay):
            model.objects.filter(program=program, day=day).delete()
        figures = computed.program.get(day)
        ProgramDay.objects.create(
            program=program, day=day, computed_at=now, **(figures.__dict__ if figures else {})
        )
        OutletDay.objects.bulk_create(
            OutletDay(program=program, outlet_id=outlet_id, day=day, **values.__dict__)
            for (each, outlet_id), values in computed.outlets.items()
            if each == day
        )
        CampaignDay.objects.bulk_create(
            CampaignDay(program=program, campaign_id=campaign_id, day=day, points=pts)
            for (each, campaign_id), pts in computed.campaigns.items()
            if each == day
        )
        MemberDay.objects.bulk_create(
            (
                MemberDay(
                    program=program,
                    day=day,
                    account_id=row["account_id"],
                    outlet_id=row["outlet_id"],
                    cohort=row["cohort"],
                    checks=row["checks"],
                    sales=row["sales"],
                )
                for row in members
            ),
            batch_size=2000,
        )
    return len(members)


def _write_month(program: Program, month: date) -> None:
    """Members of each cohort active in ``month``, from the stored member days."""
    with transaction.atomic():
        _lock(program.pk, -month.toordinal())
        CohortMonth.objects.filter(program=program, month=month).delete()
        rows = (
            MemberDay.objects.filter(program=program, day__gte=month, day__lt=next_month(month))
            .values("cohort")
            .annotate(n=Count("account_id", distinct=True))
            .order_by("cohort")
        )
        CohortMonth.objects.bulk_create(
            CohortMonth(program=program, month=month, cohort=row["cohort"], active=row["n"])
            for row in rows
        )


# --- the nightly refresh ----------------------------------------------------------------------


@dataclass
class RefreshResult:
    programs: int = 0
    days: int = 0
    months: int = 0
    member_rows: int = 0
    details: dict = field(default_factory=dict)


def touched_days(program: Program, state: AggregationState | None, marks: dict) -> set[date]:
    """Days whose figures changed since ``state``: the ledger rows created after its ids.

    A new operation touches its own day; a cancel also the check's day and the days of the
    check's refunds; a check (anonymous ones too) its day — and, uploaded by an offline till
    before the account opened, every day from the check to the opening (the joining moves);
    a new account its opening day. With no state yet, everything from the first record.
    """
    tz = zone(program)
    if state is None:
        firsts = [
            Check.objects.filter(program=program).order_by("occurred_at").first(),
            Operation.objects.filter(program=program).order_by("occurred_at").first(),
        ]
        instants = [row.occurred_at for row in firsts if row is not None]
        account = Account.objects.filter(program=program).order_by("enrolled_at").first()
        if account is not None:
            instants.append(account.enrolled_at)
        if not instants:
            return set()
        start = min(instants).astimezone(tz).date()
        return set(Period(start, marks["today"]).each_day()) if start <= marks["today"] else set()
    days: set[date] = set()
    ops = (
        Operation.objects.filter(
            program=program, pk__gt=state.last_operation_id, pk__lte=marks["operation"]
        )
        .annotate(
            day=TruncDate("occurred_at", tzinfo=tz),
            check_day=TruncDate("check_obj__occurred_at", tzinfo=tz),
            opened_day=TruncDate("account__enrolled_at", tzinfo=tz),
        )
        .values_list("kind", "day", "check_day", "opened_day", "check_obj_id")
        .distinct()
    )
    cancelled = set()
    for kind, day, check_day, opened_day, check_id in ops:
        days.add(day)
        if check_day is not None:
            days.add(check_day)
        if kind == OperationKind.CHECK and check_day and opened_day and check_day < opened_day:
            days.update(Period(check_day, opened_day).each_day())
        if kind == OperationKind.CANCEL:
            cancelled.add(check_id)
    if cancelled:
        days.update(
            Refund.objects.filter(check_obj_id__in=cancelled)
            .annotate(day=TruncDate("operation__occurred_at", tzinfo=tz))
            .values_list("day", flat=True)
            .distinct()
        )
    days.update(
        Check.objects.filter(program=program, pk__gt=state.last_check_id, pk__lte=marks["check"])
        .annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values_list("day", flat=True)
        .distinct()
    )
    days.update(
        Account.objects.filter(
            program=program, pk__gt=state.last_account_id, pk__lte=marks["account"]
        )
        .annotate(day=TruncDate("enrolled_at", tzinfo=tz))
        .values_list("day", flat=True)
        .distinct()
    )
    return days


def _marks(program: Program, today: date) -> dict:
    return {
        "operation": Operation.objects.filter(program=program).aggregate(m=Max("pk"))["m"] or 0,
        "check": Check.objects.filter(program=program).aggregate(m=Max("pk"))["m"] or 0,
        "account": Account.objects.filter(program=program).aggregate(m=Max("pk"))["m"] or 0,
        "today": today,
    }


def aggregates_refresh(*, now: datetime, program: Program | None = None) -> RefreshResult:
    """Bring the stored days up to date: yesterday, the last few days, and every day touched.

    Per programme: the days touched by ledger rows created since the previous refresh (see
    ``touched_days``), plus the trailing ``REPORTS_REFRESH_DAYS`` closed days (a change that
    committed late, behind the marks, or an anonymous check cancelled without an operation).
    The marks move forward only after the days are written.
    """
    result = RefreshResult()
    programs = [program] if program else list(Program.objects.order_by("pk"))
    for each in programs:
        today = local_today(each, now)
        marks = _marks(each, today)
        state = AggregationState.objects.filter(program=each).first()
        days = {d for d in touched_days(each, state, marks) if d < today}
        window = getattr(settings, "REPORTS_REFRESH_DAYS", 3)
        days.update(today - timedelta(days=n) for n in range(1, window + 1))
        for run in _runs(sorted(days)):
            done = aggregates_rebuild(program=each, first=run.first, last=run.last, now=now)
            result.days += done.days
            result.months += done.months
            result.member_rows += done.member_rows
        with transaction.atomic():
            state, _ = AggregationState.objects.select_for_update().get_or_create(
                program=each, defaults={"updated_at": now}
            )
            AggregationState.objects.filter(pk=state.pk).update(
                last_operation_id=Greatest("last_operation_id", marks["operation"]),
                last_check_id=Greatest("last_check_id", marks["check"]),
                last_account_id=Greatest("last_account_id", marks["account"]),
                updated_at=now,
            )
        result.programs += 1
        result.details[each.code] = len(days)
    return result


def _runs(days: list[date]) -> list[Period]:
    runs: list[Period] = []
    for day in days:
        if runs and runs[-1].last + timedelta(days=1) == day:
            runs[-1] = Period(runs[-1].first, day)
        else:
            runs.append(Period(day, day))
    return runs
