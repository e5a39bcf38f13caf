"""Members by tier from the nightly snapshot plus the rows after its marks equal the scan.

The snapshot (``reports.services.tiers_snapshot``) counts members by joining day and tier; a
report adds the accounts opened after it, the tier changes after it and the joinings moved by
offline checks uploaded after it (``reports.selectors.tiers``). Whatever happens after the
snapshot, the counts for any day equal the count over every account (``members_by_tier_scan``).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loyalty.ledger.models import TierChange
from loyalty.ledger.services import tiers_reevaluate
from loyalty.rules.models import Tier
from reports.models import AggregationState, TierCount
from reports.periods import Period
from reports.selectors.kpis import DaySource, program_kpis
from reports.selectors.tiers import TierMarks, snapshot_counts
from reports.services import aggregates_refresh, tiers_snapshot
from tests.factories import CustomerFactory, OutletFactory
from tests.reports.dataset import NOW, Builder, at, build, make_program

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")


def from_snapshot(program, lasts, now):
    state = AggregationState.objects.get(program=program)
    marks = TierMarks(state.tiers_account_id, state.tiers_check_id, state.tiers_change_id)
    return [dict(c) for c in snapshot_counts(program, lasts, marks, state.tiers_joined_before)]


def from_accounts(program, lasts, now):
    counts = DaySource(program, now=now, live=True).members_by_tier_scan(lasts)
    return [{tier: n for tier, n in c.items() if n} for c in counts]


def nonzero(counts):
    return [{tier: n for tier, n in c.items() if n} for c in counts]


def test_the_snapshot_and_what_came_after_equal_the_scan():
    data = build()
    program, b, people = data.program, data.builder, data.people
    aggregates_refresh(now=NOW, program=program)
    state = AggregationState.objects.get(program=program)
    assert state.tiers_at == NOW
    assert sum(TierCount.objects.values_list("members", flat=True)) == 9
    later = NOW + timedelta(hours=2)
    b.check(people["E"], 1500, later)  # E reaches silver: a tier change after the snapshot
    assert TierChange.objects.filter(account__customer=people["E"], upgrade=True).exists()
    b.check(people["A"], 100, at(10, 20), now=later)  # A opened Nov 5: joined in October now
    b.check(CustomerFactory(), 200, later)  # a new member today
    b.check(CustomerFactory(), 300, at(11, 29), now=later)  # opens today, joined in November
    lasts = [date(2026, 10, 31), date(2026, 11, 30), NOW.date()]
    expected = from_accounts(program, lasts, later)
    assert nonzero(from_snapshot(program, lasts, later)) == expected
    silver = Tier.objects.get(program=program, code="silver").pk
    assert expected[1][silver] == 4  # B, C, D and now E
    assert sum(expected[0].values()) == 6  # I, E, G, C, F (offline) and now A
    # The report reads the snapshot path and counts as the live report does (the stored days'
    # other figures wait for the next refresh of the days the uploads touched).
    november = Period(date(2026, 11, 1), date(2026, 11, 30))
    stored = program_kpis(program=program, period=november, now=later)["members"]
    live = program_kpis(program=program, period=november, now=later, live=True)["members"]
    assert (stored["total"], stored["by_tier"]) == (live["total"], live["by_tier"])
    assert stored["by_tier"] == {"base": 6, "silver": 4}  # E moved up; one November newcomer


START = datetime(2026, 11, 1, 10, tzinfo=MSK)
END = datetime(2026, 12, 1, 20, tzinfo=MSK)
step = st.one_of(
    st.tuples(st.just("open"), st.integers(0, 5), st.integers(0, 29)),
    st.tuples(st.just("check"), st.integers(0, 5), st.integers(1, 90), st.integers(0, 29)),
    st.tuples(st.just("offline"), st.integers(0, 5), st.integers(1, 90), st.integers(0, 9)),
    st.tuples(st.just("threshold"), st.integers(0, 3)),
    st.tuples(st.just("snapshot")),
)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
# An offline check moves a counted member's joining (Nov 5 → Nov 1) after the snapshot.
@example(steps=[("offline", 2, 10, 0), ("check", 0, 5, 0), ("check", 1, 5, 0)], cut=0, lasts=[2])
@given(
    steps=st.lists(step, min_size=3, max_size=18),
    cut=st.integers(0, 18),
    lasts=st.lists(st.integers(0, 12), min_size=1, max_size=3),
)
def test_members_by_tier_equal_the_scan_whatever_follows_the_snapshot(steps, cut, lasts):
    with transaction.atomic():
        program = make_program(code="tiers")
        program.tier_grace_days = 0
        program.save()
        b = Builder(program, OutletFactory(program=program))
        customers = [CustomerFactory() for _ in range(6)]
        for n in range(3):  # members before any snapshot, opened on different days
            b.account(customers[n], START + timedelta(days=2 * n))
        now = START + timedelta(days=6)
        for n, operation in enumerate(steps):
            if n == cut:
                tiers_snapshot(program=program, now=now)
            now += timedelta(hours=13)
            kind = operation[0]
            if kind == "open":
                day = START + timedelta(days=operation[2])
                b.account(customers[operation[1]], min(day, now))
            elif kind == "check":
                b.check(customers[operation[1]], 10 * operation[2], now)
            elif kind == "offline":  # uploaded now, dated earlier
                day = START + timedelta(days=operation[3])
                b.check(customers[operation[1]], 10 * operation[2], min(day, now), now=now)
            elif kind == "threshold":  # the marketer moves silver; the nightly job re-tiers
                silver = Tier.objects.get(program=program, code="silver")
                silver.threshold = Decimal(300 * (operation[1] + 1))
                silver.save()
                tiers_reevaluate(now=now, program_id=program.pk)
            else:  # another night
                tiers_snapshot(program=program, now=now)
        if cut >= len(steps):
            tiers_snapshot(program=program, now=now)
        days = [START.date() + timedelta(days=n) for n in lasts]
        assert nonzero(from_snapshot(program, days, now)) == from_accounts(program, days, now)
        transaction.set_rollback(True)
