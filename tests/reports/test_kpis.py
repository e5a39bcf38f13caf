"""KPIs of REPORTS.md on a hand-computed dataset (tests/reports/dataset.py)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from loyalty.ledger.models import Account, Entry
from reports.models import ProgramDay
from reports.periods import Period
from reports.selectors.kpis import DaySource, jsonable, program_kpis
from reports.services import aggregates_rebuild, aggregates_refresh
from tests.reports.dataset import EXPECTED, NOW, at, build

pytestmark = pytest.mark.django_db

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def data():
    return build()


def kpis(data, period=NOVEMBER, **kw):
    return jsonable(program_kpis(program=data.program, period=period, now=NOW, **kw))


def test_live_kpis_match_the_hand_computed_figures(data):
    assert kpis(data, live=True) == EXPECTED


def test_aggregated_kpis_match_the_hand_computed_figures(data):
    aggregates_rebuild(program=data.program, first=date(2026, 9, 1), last=NOW.date(), now=NOW)
    assert kpis(data) == EXPECTED


def test_partly_aggregated_days_fill_in_live(data):
    aggregates_rebuild(
        program=data.program, first=date(2026, 11, 5), last=date(2026, 11, 9), now=NOW
    )
    aggregates_rebuild(
        program=data.program, first=date(2026, 11, 20), last=date(2026, 12, 1), now=NOW
    )
    assert kpis(data) == EXPECTED


@pytest.mark.parametrize("stored", [False, True])
def test_members_of_the_period_before_count_the_offline_buyer(data, stored):
    # October: I, E, G, C joined then; F's account opened on Nov 25, but its offline check of
    # Oct 28 makes it a member since then. D joined on Nov 1. By tier now: C is silver.
    if stored:
        aggregates_rebuild(program=data.program, first=date(2026, 9, 1), last=NOW.date(), now=NOW)
    november = program_kpis(program=data.program, period=NOVEMBER, now=NOW, with_previous=True)
    october = november["previous"]["members"]
    assert (october["total"], october["by_tier"]) == (5, {"base": 4, "silver": 1})
    assert jsonable({k: v for k, v in november.items() if k != "previous"}) == EXPECTED


@pytest.mark.parametrize("refreshed", [False, True])
def test_liability_now_counts_the_entries_written_after_their_day_was_stored(data, refreshed):
    # The stored days give the liability from their nets (no scan of the balances); a check
    # uploaded later into a stored day, and an adjustment today, are added from the ledger.
    if refreshed:
        aggregates_refresh(now=NOW, program=data.program)
    else:
        aggregates_rebuild(program=data.program, first=date(2026, 9, 1), last=NOW.date(), now=NOW)
    stored_marks = set(ProgramDay.objects.values_list("entry_mark", flat=True))
    assert None not in stored_marks
    people = data.people
    data.builder.check(people["E"], 400, at(11, 26), now=NOW)  # offline upload, stored day
    data.builder.adjust(Account.objects.get(customer=people["A"]), 3, NOW)  # today
    everything = Entry.objects.filter(account__program=data.program).aggregate(s=Sum("amount"))
    source = DaySource(data.program, now=NOW)
    assert source._current_from_days() == everything["s"]
    december = Period(date(2026, 12, 1), NOW.date())
    stored = kpis(data, period=december)
    assert Decimal(stored["points"]["outstanding"]) == everything["s"]
    assert stored["points"] == kpis(data, period=december, live=True)["points"]


def test_liability_reads_the_balances_while_a_day_lacks_its_mark(data):
    aggregates_rebuild(program=data.program, first=date(2026, 9, 1), last=NOW.date(), now=NOW)
    ProgramDay.objects.filter(day=date(2026, 11, 20)).update(entry_mark=None)  # stored before
    source = DaySource(data.program, now=NOW)
    assert source._current_from_days() is None
    assert (
        source.outstanding(NOW.date())
        == Entry.objects.filter(account__program=data.program).aggregate(s=Sum("amount"))["s"]
    )
