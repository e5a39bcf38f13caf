"""Everything the admin dashboard shows for a programme and period, from one ``DaySource``.

The KPI cards are ``program_kpis`` (with the previous period); the series, outlets, tiers,
cohorts and campaigns read the same stored days and the same live computation, so every
number agrees with ``manage.py report_kpis`` to the kopeck.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from loyalty.rules.models import Outlet, Program
from reports.models import CohortMonth, ProgramDay
from reports.periods import (
    Period,
    money,
    month_start,
    next_month,
    points,
    ratio,
)
from reports.selectors.activity import month_actives, outlet_actives
from reports.selectors.kpis import (
    DaySource,
    campaigns_kpis,
    program_kpis,
    report_reading,
)

ZERO = Decimal("0")


@dataclass(frozen=True)
class Dashboard:
    program: Program
    period: Period
    kpis: dict
    previous: dict
    series: list[dict]
    outlets: list[dict]
    tiers: list[dict]
    cohorts: dict
    campaigns: list[dict]


def dashboard(*, program: Program, period: Period, now: datetime, live: bool = False) -> Dashboard:
    with report_reading():
        return _dashboard(program, period, now, live)


def _dashboard(program: Program, period: Period, now: datetime, live: bool) -> Dashboard:
    source = DaySource(program, now=now, live=live)
    # The earliest day any section reads: the KPIs' period before the previous, the cohorts'
    # first month.
    source.reach = min(period.previous().previous().first, month_start(period.first))
    kpis = program_kpis(program=program, period=period, now=now, source=source, with_previous=True)
    previous = kpis.pop("previous")
    return Dashboard(
        program=program,
        period=period,
        kpis=kpis,
        previous=previous,
        series=daily_series(source, period),
        outlets=outlet_table(source, period),
        tiers=[
            {"tier": code, "members": n, "share": ratio(n, kpis["members"]["total"])}
            for code, n in kpis["members"]["by_tier"].items()
        ],
        cohorts=cohort_table(source, period),
        campaigns=campaigns_kpis(source, period),
    )


def daily_series(source: DaySource, period: Period) -> list[dict]:
    """One row per day: points moved, liability at the day's end, members, sales."""
    program = source.program
    days = source.days(period)
    sales = source.outlet_days(period, by="day")
    outstanding = None
    rows = []
    for day in sorted(days, reverse=True):
        if outstanding is None:
            outstanding = source.outstanding(day)
        else:
            outstanding -= days[day + timedelta(days=1)].net
        figures = days[day]
        day_sales = sales.get(day)
        member_checks = day_sales.member_checks if day_sales else 0
        member_sales = day_sales.member_sales if day_sales else ZERO
        anonymous_checks = day_sales.anonymous_checks if day_sales else 0
        anonymous_sales = day_sales.anonymous_sales if day_sales else ZERO
        rows.append(
            {
                "day": day,
                "issued": points(program, figures.issued),
                "redeemed": points(program, figures.redeemed),
                "expired": points(program, figures.expired),
                "outstanding": points(program, outstanding),
                "liability": money(outstanding * program.point_value),
                "new_members": figures.new_members,
                "active_members": figures.active_members,
                "member_checks": member_checks,
                "anonymous_checks": anonymous_checks,
                "member_sales": money(member_sales),
                "anonymous_sales": money(anonymous_sales),
                "average_check_member": money(member_sales / member_checks)
                if member_checks
                else None,
                "average_check_anonymous": money(anonymous_sales / anonymous_checks)
                if anonymous_checks
                else None,
            }
        )
    rows.reverse()
    return rows


def outlet_table(source: DaySource, period: Period) -> list[dict]:
    figures = source.outlet_days(period, by="outlet")
    active = outlet_actives(source, period)
    outlets = Outlet.objects.filter(program=source.program).order_by("code", "pk")
    rows = []
    for outlet in outlets:
        f = figures.get(outlet.pk)
        if f is None and not outlet.is_active:
            continue
        member_checks = f.member_checks if f else 0
        anonymous_checks = f.anonymous_checks if f else 0
        member_sales = f.member_sales if f else ZERO
        anonymous_sales = f.anonymous_sales if f else ZERO
        rows.append(
            {
                "outlet": outlet.code,
                "name": outlet.name,
                "member_checks": member_checks,
                "anonymous_checks": anonymous_checks,
                "participation_rate": ratio(member_checks, member_checks + anonymous_checks),
                "member_sales": money(member_sales),
                "anonymous_sales": money(anonymous_sales),
                "refunded": money(f.refunded if f else ZERO),
                "average_check_member": money(member_sales / member_checks)
                if member_checks
                else None,
                "active_members": int(active.get(outlet.pk, 0)),
            }
        )
    return rows


def cohort_table(source: DaySource, period: Period) -> dict:
    """Members by month of joining (the months of the period) × share active in each month.

    Closed months within the period whose every day is stored read ``CohortMonth``; the
    others (and a month the period ends within) are counted from the activity cells and the
    live rows (``reports.selectors.activity.month_actives``).
    """
    program = source.program
    months = []
    month = month_start(period.first)
    while month <= period.last:
        months.append(month)
        month = next_month(month)
    months = months[-13:]
    span = Period(months[0], min(period.last, source.today))
    if span.first > span.last:
        return {"months": [], "rows": []}
    # Cohort sizes: members who joined in each month (the days' new members).
    sizes = {m: 0 for m in months}
    for day, figures in source.days(Period(months[0], span.last)).items():
        sizes[month_start(day)] = sizes.get(month_start(day), 0) + figures.new_members
    stored_days = {}
    for row in ProgramDay.objects.filter(
        program=program, day__gte=months[0], day__lt=source.today
    ).values_list("day", flat=True):
        stored_days[month_start(row)] = stored_days.get(month_start(row), 0) + 1
    active: dict[tuple[date, date], int] = {}
    closed = [
        m
        for m in months
        if not source.live
        and next_month(m) <= source.today
        and next_month(m) <= span.last + timedelta(days=1)  # the period covers all of it
        and stored_days.get(m, 0) == (next_month(m) - m).days
    ]
    for row in CohortMonth.objects.filter(program=program, month__in=closed, cohort__in=months):
        active[(row.cohort, row.month)] = row.active
    open_months = [m for m in months if m not in closed]
    if open_months:
        active.update(month_actives(source, open_months, span.last))
    rows = []
    for cohort in months:
        if cohort > span.last:
            break
        cells = []
        for m in months:
            if m < cohort or m > span.last:
                cells.append(None)
                continue
            n = active.get((cohort, m), 0)
            cells.append({"month": m, "active": n, "share": ratio(n, sizes.get(cohort, 0))})
        rows.append({"cohort": cohort, "members": sizes.get(cohort, 0), "cells": cells})
    return {"months": [m for m in months if m <= span.last], "rows": rows}
