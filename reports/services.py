"""Writing the daily aggregates: rebuild any days, and the nightly refresh that keeps them.

Each day is written in its own transaction: the day's rows are deleted and inserted again from
``reports.selectors.days.ledger_days`` under a lock on the programme's aggregates — a
PostgreSQL transaction-level advisory lock; SQLite serialises writers anyway — so a re-run, a
rebuild and the nightly job may overlap and the last writer's rows are the ledger as it was
then. A day's member visits are linked to the member's stored days before them and counted
into ``ActivityCell`` rows (ADR 0012); the visits after a rewritten range that pointed into it
are linked again. Months touched are recounted into ``CohortMonth``. Nothing here changes the
ledger.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, TruncDate, TruncMonth

from campaigns.models import Campaign, CampaignMember
from loyalty.ledger.models import Account, Check, Entry, Operation, OperationKind, Refund
from loyalty.rules.models import Program
from reports.models import (
    ActivityCell,
    AggregationState,
    CampaignDay,
    CellKind,
    CohortMonth,
    MemberDay,
    MemberVisit,
    OutletDay,
    ProgramDay,
    TierCount,
)
from reports.periods import (
    Period,
    as_date,
    as_decimal,
    local_today,
    month_start,
    next_month,
    week_start,
    zone,
)
from reports.selectors.days import MEMBER_COLUMNS, ledger_days, member_rows_sql
from reports.selectors.tiers import TierMarks, current_marks, snapshot_rows

# The advisory lock of a programme's report aggregates: (programme id, 0) in the two-int form;
# every write of the aggregates takes it. No other part of the project takes advisory locks.


def _lock(program_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [program_id])


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
        # The entries' high-water mark before reading them: the stored nets hold exactly the
        # entries up to it, and readers add the later ones (``DaySource.outstanding``).
        mark = Entry.objects.aggregate(m=Max("pk"))["m"] or 0
        computed = ledger_days(program, chunk.first, chunk.last, entry_mark=mark)
        for each in chunk.each_day():
            result.member_rows += _write_day(program, each, computed, now=now)
            result.days += 1
        day = chunk.last + timedelta(days=1)
    _relink_after(program, period)
    month = month_start(period.first)
    while month <= period.last:
        if next_month(month) <= today:
            _write_month(program, month)
            result.months += 1
        month = next_month(month)
    return result


def _write_day(program: Program, day: date, computed, *, now) -> int:
    with transaction.atomic():
        _lock(program.pk)
        for model in (ProgramDay, OutletDay, MemberDay, MemberVisit, CampaignDay, ActivityCell):
            model.objects.filter(program=program, day=day).delete()
        figures = computed.program.get(day)
        ProgramDay.objects.create(
            program=program,
            day=day,
            computed_at=now,
            entry_mark=computed.entry_mark,
            **(figures.__dict__ if figures else {}),
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
        rows = _insert_member_rows(program, day)
        if rows:
            _insert_visits(program, day)
            _link(program, Q(day=day))
        _write_cells(program, day)  # with no visits: only the day's audience mark
    return rows


def _insert_member_rows(program: Program, day: date) -> int:
    """The day's member rows, straight from the ledger into ``MemberDay`` (one statement)."""
    sql, params = member_rows_sql(program, day, day)
    columns = ", ".join(MEMBER_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MemberDay._meta.db_table} (program_id, {columns}) "
            f"SELECT %s, {columns} FROM ({sql}) rows",
            [program.pk, *params],
        )
        return cursor.rowcount


def _insert_visits(program: Program, day: date) -> None:
    """The day's member rows summed over outlets, as unlinked ``MemberVisit`` rows."""
    sql, params = (
        MemberDay.objects.filter(program=program, day=day)
        .values("account_id")
        .annotate(cohort=Min("cohort"), checks=Sum("checks"), sales=Sum("sales"))
        .values_list("account_id", "cohort", "checks", "sales")
        .order_by()
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MemberVisit._meta.db_table} (program_id, day, account_id, cohort, "
            "checks, sales, prev_checks, first_in_month) "
            f"SELECT %s, %s, rows.*, 0, true FROM ({sql}) rows",
            [program.pk, connection.ops.adapt_datefield_value(day), *params],
        )


def _link(program: Program, visits: Q, member_days: Q | None = None) -> None:
    """Point the chosen visits (and member rows) at the member's stored days before them."""
    member_days = visits if member_days is None else member_days
    before = MemberVisit.objects.filter(
        program=program, account_id=OuterRef("account_id"), day__lt=OuterRef("day")
    ).order_by("-day")
    chosen = MemberVisit.objects.filter(program=program).filter(visits)
    chosen.update(prev_day=Subquery(before.values("day")[:1]))
    chosen.update(
        prev2_day=Subquery(
            MemberVisit.objects.filter(
                program=program, account_id=OuterRef("account_id"), day__lt=OuterRef("prev_day")
            )
            .order_by("-day")
            .values("day")[:1]
        ),
        prev_checks=Coalesce(
            Subquery(
                MemberVisit.objects.filter(
                    program=program, account_id=OuterRef("account_id"), day=OuterRef("prev_day")
                ).values("checks")[:1]
            ),
            Value(0),
        ),
        first_in_month=Case(
            When(prev_day__isnull=True, then=Value(True)),
            When(prev_day__lt=TruncMonth("day"), then=Value(True)),
            default=Value(False),
        ),
    )
    MemberDay.objects.filter(program=program).filter(member_days).update(
        outlet_prev=Subquery(
            MemberDay.objects.filter(
                program=program,
                account_id=OuterRef("account_id"),
                outlet_id=OuterRef("outlet_id"),
                day__lt=OuterRef("day"),
            )
            .order_by("-day")
            .values("day")[:1]
        )
    )


def _relink_after(program: Program, period: Period) -> None:
    """Link again the stored visits after ``period`` whose previous days may have changed.

    A visit's links change only if one of its two previous days (or its outlet's previous
    day) lies in the period, before or after the rewrite: either it pointed there, or its
    member has a visit there now. Their days' cells are counted again.
    """
    span = {"day__gte": period.first, "day__lte": period.last}
    accounts = MemberVisit.objects.filter(program=program, **span).values("account_id")
    pairs = MemberDay.objects.filter(
        program=program, account_id=OuterRef("account_id"), outlet_id=OuterRef("outlet_id"), **span
    )
    later = Q(day__gt=period.last)
    visits = later & (
        Q(account_id__in=accounts)
        | Q(prev_day__gte=period.first, prev_day__lte=period.last)
        | Q(prev2_day__gte=period.first, prev2_day__lte=period.last)
    )
    member_days = later & (
        Q(Exists(pairs)) | Q(outlet_prev__gte=period.first, outlet_prev__lte=period.last)
    )
    with transaction.atomic():
        _lock(program.pk)
        # The rows are chosen before linking: linking changes the columns that chose them.
        visit_rows = list(
            MemberVisit.objects.filter(program=program).filter(visits).values_list("pk", "day")
        )
        day_rows = list(
            MemberDay.objects.filter(program=program).filter(member_days).values_list("pk", "day")
        )
        for chunk in _chunks([pk for pk, _ in visit_rows]):
            _link(program, Q(pk__in=chunk), Q(pk__in=[]))
        for chunk in _chunks([pk for pk, _ in day_rows]):
            _link(program, Q(pk__in=[]), Q(pk__in=chunk))
        for day in sorted({day for _, day in visit_rows} | {day for _, day in day_rows}):
            ActivityCell.objects.filter(program=program, day=day).delete()
            _write_cells(program, day)


def _chunks(items: list, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_cells(program: Program, day: date) -> None:
    """Count the day's linked visits into ``ActivityCell`` rows (see the model and ADR 0012).

    Exact cells per (kind, outlet, previous day), and for every kind but ``MONTH`` cumulative
    cells: for each week start after the earliest previous day, up to the day's own week, the
    visits whose previous day is before it; ``other`` None holds the count of visits with no
    previous day.
    """
    visits = MemberVisit.objects.filter(program=program, day=day).order_by()
    exact: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    programme = (CellKind.VISIT, None, None, False)
    for prev, n in visits.values_list("prev_day").annotate(n=Count("id")):
        exact[programme][prev] += n
    multi = (CellKind.MULTI, None, None, False)
    for prev, n in visits.filter(checks__gte=2).values_list("prev_day").annotate(n=Count("id")):
        exact[multi][prev] += n
    # A second visit whose first (the previous day) had one check: +1 from the day after the
    # visit before that, −1 from the day after the first (see ADR 0012 for the count).
    step = (CellKind.STEP, None, None, False)
    steps = visits.filter(prev_checks=1, prev_day__isnull=False)
    for prev2, n in steps.values_list("prev2_day").annotate(n=Count("id")):
        exact[step][prev2] += n
    for prev, n in steps.values_list("prev_day").annotate(n=Count("id")):
        exact[step][prev] -= n
    outlet_rows = (
        MemberDay.objects.filter(program=program, day=day)
        .values_list("outlet_id", "outlet_prev")
        .annotate(n=Count("id"))
        .order_by()
    )
    for outlet_id, prev, n in outlet_rows:
        exact[(CellKind.OUTLET, outlet_id, None, False)][prev] += n
    # Campaign groups: the visits of audience members, up to the audience rows there are now.
    mark = CampaignMember.objects.aggregate(m=Max("pk"))["m"] or 0
    group_sales = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT cm.campaign_id, cm.is_control, v.prev_day, COUNT(*), SUM(v.sales) "
            f"FROM {MemberVisit._meta.db_table} v JOIN {CampaignMember._meta.db_table} cm "
            "ON cm.account_id = v.account_id AND cm.id <= %s "
            f"JOIN {Campaign._meta.db_table} c ON c.id = cm.campaign_id AND c.program_id = %s "
            "WHERE v.program_id = %s AND v.day = %s "
            "GROUP BY cm.campaign_id, cm.is_control, v.prev_day",
            [mark, program.pk, program.pk, connection.ops.adapt_datefield_value(day)],
        )
        totals: dict[tuple, list] = defaultdict(lambda: [0, Decimal("0")])
        for campaign_id, control, prev, n, sales in cursor.fetchall():
            key = (campaign_id, bool(control))
            exact[(CellKind.CAMPAIGN, None, *key)][as_date(prev) if prev else None] += n
            totals[key][0] += n
            totals[key][1] += as_decimal(sales)
        for (campaign_id, control), (n, sales) in totals.items():
            group_sales.append((campaign_id, control, n, sales))
    ProgramDay.objects.filter(program=program, day=day).update(audience_mark=mark)
    cells = []
    last_week = week_start(day)
    for (kind, outlet_id, campaign_id, control), counts in exact.items():
        series = {"kind": kind, "outlet_id": outlet_id, "campaign_id": campaign_id}
        series["control"] = control
        for other, n in counts.items():
            if n:
                cells.append({**series, "cumulative": False, "other": other, "members": n})
        cells.append({**series, "cumulative": True, "other": None, "members": counts.get(None, 0)})
        dated = sorted((other, n) for other, n in counts.items() if other is not None)
        if not dated:
            continue
        week = week_start(dated[0][0]) + timedelta(days=7)
        below, index = counts.get(None, 0), 0
        while week <= last_week:
            while index < len(dated) and dated[index][0] < week:
                below += dated[index][1]
                index += 1
            cells.append({**series, "cumulative": True, "other": week, "members": below})
            week += timedelta(days=7)
    for cohort, n in (
        visits.filter(first_in_month=True).values_list("cohort").annotate(n=Count("id"))
    ):
        cells.append({"kind": CellKind.MONTH, "other": cohort, "members": n})
    for campaign_id, control, n, sales in group_sales:
        cells.append(
            {
                "kind": CellKind.GROUP_SALES,
                "campaign_id": campaign_id,
                "control": control,
                "members": n,
                "sales": sales,
            }
        )
    ActivityCell.objects.bulk_create(
        (ActivityCell(program=program, day=day, **cell) for cell in cells), batch_size=5000
    )


def _write_month(program: Program, month: date) -> None:
    """Members of each cohort active in ``month``, from the stored member days."""
    with transaction.atomic():
        _lock(program.pk)
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
        "entry": Entry.objects.aggregate(m=Max("pk"))["m"] or 0,
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
        tiers_snapshot(program=each, now=now)
        with transaction.atomic():
            state, _ = AggregationState.objects.select_for_update().get_or_create(
                program=each, defaults={"updated_at": now}
            )
            AggregationState.objects.filter(pk=state.pk).update(
                last_operation_id=Greatest("last_operation_id", marks["operation"]),
                last_check_id=Greatest("last_check_id", marks["check"]),
                last_account_id=Greatest("last_account_id", marks["account"]),
                last_entry_id=Greatest("last_entry_id", marks["entry"]),
                updated_at=now,
            )
        result.programs += 1
        result.details[each.code] = len(days)
    return result


def tiers_snapshot(*, program: Program, now: datetime, marks: TierMarks | None = None) -> int:
    """Count every member by joining day and tier into ``TierCount`` (one transaction).

    As of ``marks`` (default: the highest ids now), which the state keeps so that readers add
    what came after (``reports.selectors.tiers``). Returns the members counted.
    """
    marks = marks or current_marks(program)
    rows, latest = snapshot_rows(program, marks)
    with transaction.atomic():
        _lock(program.pk)
        TierCount.objects.filter(program=program).delete()
        TierCount.objects.bulk_create(
            TierCount(program=program, day=day, tier_id=tier_id, members=n)
            for day, tier_id, n in rows
        )
        state, _ = AggregationState.objects.select_for_update().get_or_create(
            program=program, defaults={"updated_at": now}
        )
        AggregationState.objects.filter(pk=state.pk).update(
            tiers_at=now,
            tiers_account_id=marks.account,
            tiers_check_id=marks.check,
            tiers_change_id=marks.change,
            tiers_joined_before=latest,
        )
    return sum(n for _, _, n in rows)


def _runs(days: list[date]) -> list[Period]:
    runs: list[Period] = []
    for day in days:
        if runs and runs[-1].last + timedelta(days=1) == day:
            runs[-1] = Period(runs[-1].first, day)
        else:
            runs.append(Period(day, day))
    return runs
