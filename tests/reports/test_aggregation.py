"""The nightly refresh keeps the same rows a rebuild from scratch writes; the job runs once."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.models import JobRun, JobStatus
from reports.jobs import aggregates_job
from reports.models import (
    ActivityCell,
    AggregationState,
    CampaignDay,
    CohortMonth,
    MemberDay,
    MemberVisit,
    OutletDay,
    ProgramDay,
)
from reports.periods import Period
from reports.selectors.kpis import program_kpis
from reports.services import aggregates_rebuild, aggregates_refresh
from tests.factories import CustomerFactory, OutletFactory
from tests.reports.dataset import Builder, make_program

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")
TABLES = (ProgramDay, OutletDay, MemberDay, MemberVisit, ActivityCell, CampaignDay, CohortMonth)


def at(month, day, hour=12):
    return datetime(2026, month, day, hour, tzinfo=MSK)


def snapshot(program):
    rows = {}
    for model in TABLES:
        fields = [f.attname for f in model._meta.fields if f.attname not in ("id", "computed_at")]
        rows[model.__name__] = sorted(
            tuple(str(v) for v in row)
            for row in model.objects.filter(program=program).values_list(*fields)
        )
    return rows


def test_incremental_refresh_equals_a_rebuild_from_scratch(settings):
    settings.REPORTS_REFRESH_DAYS = 0  # only the days the ledger says were touched
    program = make_program()
    outlet = OutletFactory(program=program)
    b = Builder(program, outlet)
    anna, boris, vera = CustomerFactory(), CustomerFactory(), CustomerFactory()
    c1 = b.check(anna, 500, at(10, 30))
    c2 = b.check(boris, 300, at(11, 1))
    b.check(None, 200, at(11, 2))
    c3 = b.check(anna, 700, at(11, 2))
    aggregates_refresh(now=at(11, 3, 1))
    assert AggregationState.objects.get(program=program).last_check_id == c3.pk
    first = snapshot(program)
    assert len(first["ProgramDay"]) == 4  # Oct 30 .. Nov 2

    # Later: an old check cancelled, an offline upload, a refund of an October check.
    b.cancel(c2, at(11, 4))
    b.check(vera, 400, at(10, 31), now=at(11, 4, 15))  # vera joined on Oct 31 after all
    b.refund(c1, at(11, 4, 16))
    b.check(boris, 100, at(11, 5))
    now = at(11, 6, 1)
    aggregates_refresh(now=now)
    kept = snapshot(program)
    assert kept != first

    for model in TABLES:
        model.objects.filter(program=program).delete()
    aggregates_rebuild(program=program, first=date(2026, 10, 30), last=date(2026, 11, 5), now=now)
    assert snapshot(program) == kept
    november = Period(date(2026, 11, 1), date(2026, 11, 5))
    stored = program_kpis(program=program, period=november, now=now)
    assert stored == program_kpis(program=program, period=november, now=now, live=True)
    assert stored["checks"]["member"] == 2 and stored["sales"]["refunded"] == 500


def test_rebuilding_twice_writes_the_same_rows():
    program = make_program()
    b = Builder(program, OutletFactory(program=program))
    b.check(CustomerFactory(), 500, at(11, 1))
    aggregates_rebuild(
        program=program, first=date(2026, 11, 1), last=date(2026, 11, 3), now=at(11, 9)
    )
    once = snapshot(program)
    aggregates_rebuild(
        program=program, first=date(2026, 11, 1), last=date(2026, 11, 3), now=at(11, 9)
    )
    assert snapshot(program) == once


def test_today_is_never_stored_and_the_job_runs_once_a_day(settings):
    settings.REPORTS_REFRESH_DAYS = 1
    program = make_program()
    b = Builder(program, OutletFactory(program=program))
    b.check(CustomerFactory(), 500, at(11, 1))
    now = at(11, 2, 0)
    run = aggregates_job(now=now)
    assert run.run.status == JobStatus.SUCCEEDED and run.rows == 1
    assert list(ProgramDay.objects.values_list("day", flat=True)) == [date(2026, 11, 1)]
    again = aggregates_job(now=now)
    assert again.skipped
    assert JobRun.objects.filter(job="reports.aggregate_days").count() == 1


def test_concurrent_rebuilds_of_one_day_leave_one_set_of_rows(on_postgres, transactional_db):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    program = make_program()
    b = Builder(program, OutletFactory(program=program))
    for n in range(5):
        b.check(CustomerFactory(), 100 + n, at(11, 1))

    def rebuild(_):
        try:
            aggregates_rebuild(
                program=program, first=date(2026, 11, 1), last=date(2026, 11, 1), now=at(11, 9)
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(rebuild, range(8)))
    assert ProgramDay.objects.filter(program=program).count() == 1
    assert MemberDay.objects.filter(program=program).count() == 5
