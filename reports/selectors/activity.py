"""Distinct-member counts of a period from ``ActivityCell`` sums, exact at any size (ADR 0012).

Every count here is "members with a visit in the period such that …", read as a sum over the
visits that are *first* in the period — a visit whose previous day lies before the period
start. Stored days give those sums from the cells (a few thousand rows whatever the number of
members); the members with a live row in the period (today's buyers, any day not stored) are
taken out of the cell sums (their stored visits, by the same predicates) and counted exactly
from their stored and live rows together. With nothing stored, that is everyone, exactly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Sum
from django.db.models.functions import TruncMonth

from campaigns.models import CampaignMember
from reports.models import ActivityCell, CellKind, MemberDay, MemberVisit, ProgramDay
from reports.periods import Period, as_date, as_decimal, next_month, sql_day, week_start

if TYPE_CHECKING:
    from reports.selectors.kpis import DaySource

_param = sql_day


@dataclass(frozen=True)
class Activity:
    active: int
    repeat: int
    retained: int | None  # active in the period before and in this one
    previous_active: int | None  # active in the period before


CELLS = ActivityCell._meta.db_table
WHOLE = (None, None, False)  # the cells key of the programme-wide kinds


def cells_below(source: DaySource, wanted: list[tuple[str, Period, date]]) -> list[dict]:
    """For each (kind, period, x): Σ over the period's stored days of the visits whose previous
    day is before ``x`` (at most the period start), keyed (outlet, campaign, control group) —
    (None, None, False) for the programme-wide kinds. One query for all.

    A day's value is its cumulative cell at ``x``'s week start (or, where there is none, its
    count of visits with no previous day) plus its exact cells from that week start to ``x``.
    """
    parts, params = [], []
    for n, (kind, period, x) in enumerate(wanted):
        stored = source.stored_until(period)
        if stored is None:
            continue
        week = week_start(x)
        span = [source.program.pk, kind, _param(stored.first), _param(stored.last)]
        parts.append(
            f"SELECT {n} AS q, n.outlet_id, n.campaign_id, n.control, "
            "SUM(COALESCE(c.members, n.members)) AS m "
            f"FROM {CELLS} n LEFT JOIN {CELLS} c ON c.program_id = n.program_id "
            "AND c.day = n.day AND c.kind = n.kind "
            "AND COALESCE(c.outlet_id, 0) = COALESCE(n.outlet_id, 0) "
            "AND COALESCE(c.campaign_id, 0) = COALESCE(n.campaign_id, 0) "
            "AND c.control = n.control AND c.cumulative = %s AND c.other = %s "
            "WHERE n.program_id = %s AND n.kind = %s AND n.day >= %s AND n.day <= %s "
            "AND n.cumulative = %s AND n.other IS NULL "
            "GROUP BY n.outlet_id, n.campaign_id, n.control"
        )
        params += [True, _param(week), *span, True]
        if week < x:
            parts.append(
                f"SELECT {n} AS q, outlet_id, campaign_id, control, SUM(members) AS m "
                f"FROM {CELLS} WHERE program_id = %s AND kind = %s AND day >= %s "
                "AND day <= %s AND cumulative = %s AND other >= %s AND other < %s "
                "GROUP BY outlet_id, campaign_id, control"
            )
            params += [*span, False, _param(week), _param(x)]
    result: list[dict] = [defaultdict(int) for _ in wanted]
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(
                " UNION ALL ".join(f"SELECT * FROM ({part}) s{n}" for n, part in enumerate(parts)),
                params,
            )
            for q, outlet_id, campaign_id, control, m in cursor.fetchall():
                result[int(q)][(outlet_id, campaign_id, bool(control))] += int(m or 0)
    return result


def account_filter(ids: list[int], column: str = "account_id") -> tuple[str, list]:
    """``account_id`` among ``ids`` as SQL: an array on PostgreSQL (index probes), JSON on SQLite
    (no limit on the number of ids)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]


def member_activity(source: DaySource, periods: list[Period]) -> list[Activity]:
    """Active and repeat members of each period, and those also active in the period before.

    ``periods`` are consecutive, oldest first. Active: first visits in the period. Repeat (two
    checks or more): first visits of two checks or more, plus second visits after a first of
    one check. Retained: first visits whose previous day is in the period before.
    """
    wanted = []
    for n, period in enumerate(periods):
        a = period.first
        wanted += [(CellKind.VISIT, period, a), (CellKind.MULTI, period, a)]
        wanted += [(CellKind.STEP, period, a)]
        wanted += [(CellKind.VISIT, period, periods[n - 1].first if n else a)]
    sums = [cell.get(WHOLE, 0) for cell in cells_below(source, wanted)]
    counts = []  # active, repeat, retained
    for n in range(len(periods)):
        active, multi, step, before_previous = sums[4 * n : 4 * n + 4]
        counts.append([active, multi + step, active - before_previous if n else 0])
    span = Period(periods[0].first, periods[-1].last)
    stored = source.stored_until(span)
    accounts = source.live_accounts(span) if stored is not None else None
    if stored is None or accounts is not None:
        if accounts is not None:
            for n, values in enumerate(_stored_activity(source, periods, stored, accounts)):
                for k in range(3):
                    counts[n][k] -= values[k]
        exact = exact_activity(source, periods, accounts=accounts)
        for n, activity in enumerate(exact):
            counts[n][0] += activity.active
            counts[n][1] += activity.repeat
            counts[n][2] += activity.retained or 0
    result = []
    for n, (active, repeat, retained) in enumerate(counts):
        result.append(
            Activity(
                active=active,
                repeat=repeat,
                retained=None if n == 0 else retained,
                previous_active=result[n - 1].active if n else None,
            )
        )
    return result


def _stored_activity(source, periods, stored: Period, accounts) -> list[tuple[int, int, int]]:
    """The cells' share of the given members: the same predicates over their stored visits."""
    sums, params = [], []
    for n, period in enumerate(periods):
        a, b = _param(period.first), _param(period.last)
        inside = "day >= %s AND day <= %s"
        first = f"{inside} AND (prev_day IS NULL OR prev_day < %s)"
        sums.append(f"SUM(CASE WHEN {first} THEN 1 ELSE 0 END)")
        params += [a, b, a]
        sums.append(
            f"SUM(CASE WHEN {first} AND checks >= 2 THEN 1 ELSE 0 END) + "
            f"SUM(CASE WHEN {inside} AND prev_checks = 1 AND prev_day IS NOT NULL THEN "
            "(CASE WHEN prev2_day IS NULL OR prev2_day < %s THEN 1 ELSE 0 END) - "
            "(CASE WHEN prev_day < %s THEN 1 ELSE 0 END) ELSE 0 END)"
        )
        params += [a, b, a, a, b, a, a]
        if n:
            sums.append(
                f"SUM(CASE WHEN {inside} AND prev_day >= %s AND prev_day < %s THEN 1 ELSE 0 END)"
            )
            params += [a, b, _param(periods[n - 1].first), a]
        else:
            sums.append("0")
    rows_sql, rows_params = source.stored_rows(MemberVisit, stored, accounts)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(sums)} FROM ({rows_sql}) v", [*params, *rows_params])
        row = cursor.fetchone()
    return [tuple(int(v or 0) for v in row[3 * n : 3 * n + 3]) for n in range(len(periods))]


def outlet_actives(source: DaySource, period: Period) -> dict[int, int]:
    """Members with a counted check at each outlet in the period."""
    result = defaultdict(int)
    for (outlet_id, _, _), n in cells_below(source, [(CellKind.OUTLET, period, period.first)])[
        0
    ].items():
        result[outlet_id] += n
    stored = source.stored_until(period)
    accounts = source.live_accounts(period) if stored is not None else None
    if stored is None or accounts is not None:
        if accounts is not None:
            rows = _stored_rows(
                source,
                MemberDay,
                stored,
                accounts,
                "outlet_id, COUNT(*)",
                ("(outlet_prev IS NULL OR outlet_prev < %s)", [_param(period.first)]),
                "GROUP BY outlet_id",
            )
            for outlet_id, n in rows:
                result[outlet_id] -= int(n)
        for outlet_id, n in exact_outlet_actives(source, period, accounts=accounts).items():
            result[outlet_id] += n
    return {outlet_id: n for outlet_id, n in result.items() if outlet_id is not None}


def month_actives(source: DaySource, months: list[date], last: date) -> dict[tuple, int]:
    """(cohort, month) → members of the cohort with a counted check in the month (to ``last``)."""
    result: dict[tuple[date, date], int] = defaultdict(int)
    window = Period(months[0], min(last, _month_end(months[-1])))
    stored = source.stored_until(window)
    wanted = set(months)
    if stored is not None:
        cells = (
            ActivityCell.objects.filter(
                program=source.program,
                kind=CellKind.MONTH,
                day__gte=stored.first,
                day__lte=stored.last,
            )
            .annotate(month=TruncMonth("day"))
            .values("month", "other")
            .annotate(n=Sum("members"))
            .order_by()
            .values_list("month", "other", "n")
        )
        for month, cohort, n in cells:
            if as_date(month) in wanted:
                result[(as_date(cohort), as_date(month))] += int(n)
    accounts = source.live_accounts(window) if stored is not None else None
    if stored is None or accounts is not None:
        if accounts is not None:
            rows = _stored_rows(
                source,
                MemberVisit,
                stored,
                accounts,
                "day, cohort",
                ("first_in_month = %s", [True]),
            )
            for day, cohort in rows:
                month = as_date(day).replace(day=1)
                if month in wanted:
                    result[(as_date(cohort), month)] -= 1
        for key, n in exact_month_actives(source, months, window, accounts=accounts).items():
            result[key] += n
    return dict(result)


def _stored_rows(source, model, stored: Period, accounts, columns: str, condition, group=""):
    """The given members' stored rows of ``stored`` (their share of the cells): ``columns``."""
    rows_sql, rows_params = source.stored_rows(model, stored, accounts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM ({rows_sql}) r WHERE {condition[0]} {group}",
            [*rows_params, *condition[1]],
        )
        return cursor.fetchall()


def _month_end(month: date) -> date:
    return next_month(month) - timedelta(days=1)


# --- exact counts over member rows (stored and live), for a set of members or everyone --------


def exact_activity(source: DaySource, periods: list[Period], *, accounts=None) -> list[Activity]:
    """``member_activity`` of the given members from their rows: one pass over all periods."""
    span = Period(periods[0].first, periods[-1].last)
    rows_sql, params = source.member_sql(span, accounts)
    bucket_sql, bucket_params = [], []
    for n, period in enumerate(periods):
        bucket_sql.append(f"SUM(CASE WHEN day >= %s AND day <= %s THEN checks ELSE 0 END) AS c{n}")
        bucket_params += [_param(period.first), _param(period.last)]
    outer = []
    for n in range(len(periods)):
        outer.append(f"SUM(CASE WHEN c{n} > 0 THEN 1 ELSE 0 END)")
        outer.append(f"SUM(CASE WHEN c{n} > 1 THEN 1 ELSE 0 END)")
        outer.append(f"SUM(CASE WHEN c{n} > 0 AND c{n - 1} > 0 THEN 1 ELSE 0 END)" if n else "NULL")
    sql = (
        f"SELECT {', '.join(outer)} FROM (SELECT account_id, {', '.join(bucket_sql)} "
        f"FROM ({rows_sql}) md GROUP BY account_id) per_member"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*bucket_params, *params])
        row = cursor.fetchone()
    result = []
    for n in range(len(periods)):
        active, repeat, retained = row[3 * n : 3 * n + 3]
        result.append(
            Activity(
                active=int(active or 0),
                repeat=int(repeat or 0),
                retained=None if n == 0 else int(retained or 0),
                previous_active=result[n - 1].active if n else None,
            )
        )
    return result


def exact_outlet_actives(source: DaySource, period: Period, *, accounts=None) -> dict[int, int]:
    rows_sql, params = source.member_sql(period, accounts)
    with connection.cursor() as cursor:
        cursor.execute(
            # DISTINCT then COUNT hashes; COUNT(DISTINCT …) per group would sort.
            "SELECT outlet_id, COUNT(*) FROM (SELECT DISTINCT outlet_id, account_id FROM "
            f"({rows_sql}) md) pairs GROUP BY outlet_id",
            params,
        )
        return {outlet_id: int(n) for outlet_id, n in cursor.fetchall()}


def exact_month_actives(
    source: DaySource, months: list[date], window: Period, *, accounts=None
) -> dict[tuple[date, date], int]:
    rows_sql, params = source.member_sql(window, accounts, cohort=True)
    cases, case_params = [], []
    for n, m in enumerate(months):
        cases.append(f"WHEN day >= %s AND day < %s THEN {n}")
        case_params += [_param(m), _param(next_month(m))]
    sql = (
        "SELECT cohort, bucket, COUNT(*) FROM (SELECT DISTINCT cohort, account_id, "
        f"CASE {' '.join(cases)} ELSE -1 END AS bucket FROM ({rows_sql}) md) b "
        "WHERE bucket >= 0 GROUP BY cohort, bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*case_params, *params])
        return {
            (as_date(cohort), months[int(bucket)]): int(n)
            for cohort, bucket, n in cursor.fetchall()
        }


# --- campaign groups ----------------------------------------------------------------------------


def campaign_groups(source: DaySource, campaign_id: int, overlap: Period):
    """is_control → (buyers, member sales) of the campaign's audience within ``overlap``.

    Stored days from the campaign cells; the audience rows added after a day was counted
    (above its ``audience_mark``) and today's buyers are taken out and counted exactly.
    """
    from campaigns.models import CampaignMember

    result = {False: [0, Decimal("0")], True: [0, Decimal("0")]}
    stored = source.stored_until(overlap)
    accounts = None
    if stored is not None:
        cells = cells_below(source, [(CellKind.CAMPAIGN, overlap, overlap.first)])[0]
        for (_, cid, control), n in cells.items():
            if cid == campaign_id:
                result[control][0] += n
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT control, SUM(sales) FROM {CELLS} WHERE program_id = %s AND kind = %s "
                "AND campaign_id = %s AND day >= %s AND day <= %s GROUP BY control",
                [
                    source.program.pk,
                    CellKind.GROUP_SALES,
                    campaign_id,
                    _param(stored.first),
                    _param(stored.last),
                ],
            )
            for control, sales in cursor.fetchall():
                result[bool(control)][1] += as_decimal(sales)
        days = ProgramDay.objects.filter(
            program=source.program, day__gte=stored.first, day__lte=stored.last
        )
        mark = min(days.values_list("audience_mark", flat=True), default=0)
        late = set(
            CampaignMember.objects.filter(campaign_id=campaign_id, pk__gt=mark).values_list(
                "account_id", flat=True
            )
        )
        live = source.live_accounts(overlap) or []
        # Today's buyers alone (the usual case): the list ``live_accounts`` returned, whose
        # stored rows the report has already read.
        accounts = live if late <= set(live) else sorted(late | set(live))
        if accounts:
            rows_sql, rows_params = source.stored_rows(MemberVisit, stored, accounts)
            cursor_sql = (
                "SELECT cm.is_control, SUM(CASE WHEN v.prev_day IS NULL OR v.prev_day < %s "
                f"THEN 1 ELSE 0 END), SUM(v.sales) FROM ({rows_sql}) v "
                f"JOIN {CampaignMember._meta.db_table} cm ON cm.account_id = v.account_id "
                f"AND cm.campaign_id = %s JOIN {ProgramDay._meta.db_table} pd "
                "ON pd.program_id = v.program_id AND pd.day = v.day AND cm.id <= pd.audience_mark "
                "GROUP BY cm.is_control"
            )
            with connection.cursor() as cursor:
                cursor.execute(cursor_sql, [_param(overlap.first), *rows_params, campaign_id])
                for control, n, sales in cursor.fetchall():
                    result[bool(control)][0] -= int(n or 0)
                    result[bool(control)][1] -= as_decimal(sales)
    if stored is None or accounts:
        for control, (n, sales) in exact_campaign_groups(
            source, campaign_id, overlap, accounts=accounts
        ).items():
            result[control][0] += n
            result[control][1] += sales
    return {control: (n, sales) for control, (n, sales) in result.items() if n or sales}


def exact_campaign_groups(source: DaySource, campaign_id: int, overlap: Period, *, accounts=None):
    rows_sql, params = source.member_sql(overlap, accounts)
    table = CampaignMember._meta.db_table
    sql = (
        "SELECT cm.is_control, COUNT(DISTINCT md.account_id), SUM(md.sales) "
        f"FROM ({rows_sql}) md JOIN {table} cm ON cm.account_id = md.account_id "
        "WHERE cm.campaign_id = %s GROUP BY cm.is_control"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, campaign_id])
        return {
            bool(is_control): (int(buyers), as_decimal(sales))
            for is_control, buyers, sales in cursor.fetchall()
        }
