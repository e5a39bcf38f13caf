"""KPIs of REPORTS.md on a hand-computed dataset (tests/reports/dataset.py)."""

from datetime import date

import pytest

from reports.periods import Period
from reports.selectors.kpis import jsonable, program_kpis
from reports.services import aggregates_rebuild
from tests.reports.dataset import EXPECTED, NOW, build

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
