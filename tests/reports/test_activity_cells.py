"""Distinct-member counts from the activity cells equal the exact count over member rows.

Random visit histories (members buying at several outlets, on several days, one or two checks
a day, some cancelled), aggregated with holes (days never stored, today live), then changed
(checks added and cancelled on stored days, those days aggregated again, which links the later
visits again; a campaign audience grown after the days were stored): for random periods, every
KPI (campaign groups included) and the dashboard's outlet and cohort tables read from the
aggregates equal the same computed live from the ledger alone (ADR 0012).
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loyalty.ledger.models import CheckStatus
from reports.models import ActivityCell, MemberVisit
from reports.periods import Period
from reports.selectors.dashboard import dashboard
from reports.selectors.kpis import program_kpis
from reports.services import aggregates_rebuild
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CampaignMemberFactory,
    CheckFactory,
    CustomerFactory,
    OutletFactory,
)
from tests.reports.dataset import make_program

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")
FIRST = date(2026, 10, 20)
DAYS = 45
NOW = datetime.combine(FIRST + timedelta(days=DAYS - 1), datetime.min.time(), MSK) + timedelta(
    hours=20
)
TODAY = FIRST + timedelta(days=DAYS - 1)

visit = st.tuples(
    st.integers(0, 5),  # member
    st.integers(0, DAYS - 1),  # day (the last one is today, live)
    st.integers(0, 2),  # outlet
    st.integers(1, 2),  # checks that day
)


def _buy(program, accounts, outlets, member, day, outlet, n):
    made = []
    for k in range(n):
        made.append(
            CheckFactory(
                program=program,
                account=accounts[member],
                outlet=outlets[outlet],
                occurred_at=datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), MSK)
                + timedelta(hours=10 + k),
                subtotal=Decimal(100 + 10 * member),
            )
        )
    return made


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    visits=st.lists(visit, min_size=3, max_size=40),
    holes=st.sets(st.integers(0, DAYS - 2), max_size=6),
    changes=st.lists(visit, max_size=6),
    cancels=st.sets(st.integers(0, 39), max_size=4),
    periods=st.lists(st.tuples(st.integers(0, DAYS - 1), st.integers(0, DAYS - 1)), min_size=2),
    audience=st.sets(st.integers(0, 5)),
    late=st.sets(st.integers(0, 5)),
)
@example(  # a closed month the period ends within (found by this test)
    visits=[
        *[(0, 0, 0, 2), (0, 13, 0, 2), (0, 19, 0, 2), (0, 21, 0, 1), (0, 29, 0, 2)],
        *[(0, 29, 0, 2), (0, 30, 0, 2), (0, 31, 0, 1), (0, 38, 0, 2), (0, 41, 0, 1)],
    ],
    holes=set(),
    changes=[
        (0, 25, 0, 2),
        (0, 35, 0, 2),
        (0, 40, 0, 1),
        (0, 14, 0, 2),
        (2, 36, 0, 2),
        (0, 12, 0, 1),
    ],
    cancels={12},
    periods=[(0, 29), (0, 29)],
    audience={0, 2},
    late={3},
)
def test_cell_counts_equal_the_exact_counts(
    visits, holes, changes, cancels, periods, audience, late
):
    with transaction.atomic():
        program = make_program(code="cells")
        outlets = [OutletFactory(program=program, code=f"o{n}") for n in range(3)]
        accounts = [
            AccountFactory(
                program=program,
                customer=CustomerFactory(),
                enrolled_at=datetime(2026, 8 + n % 3, 5, 12, tzinfo=MSK),
            )
            for n in range(6)
        ]
        checks = []
        for v in visits:
            checks += _buy(program, accounts, outlets, *v)
        # A campaign launched before the history, its audience drawn before the days are stored
        # and grown after (those rows are above the stored days' audience marks).
        campaign = CampaignFactory(
            program=program,
            code="winback",
            starts_at=datetime(2026, 10, 1, tzinfo=MSK),
            launched_at=datetime(2026, 10, 1, tzinfo=MSK),
        )

        def draw(members):
            for n in sorted(members):
                if not campaign.members.filter(account=accounts[n]).exists():
                    CampaignMemberFactory(
                        campaign=campaign, account=accounts[n], is_control=n % 3 == 0
                    )

        draw(audience)
        stored = [d for d in range(DAYS - 1) if d not in holes]
        for d in stored:
            day = FIRST + timedelta(days=d)
            aggregates_rebuild(program=program, first=day, last=day, now=NOW)

        # Changes on stored days (and the holes, which stay live): the touched stored days are
        # aggregated again, one at a time, as the nightly refresh does.
        touched = set()
        for v in changes:
            checks += _buy(program, accounts, outlets, *v)
            touched.add(v[1])
        for n in sorted(cancels):
            if n < len(checks):
                check = checks[n]
                check.status = CheckStatus.CANCELLED
                check.save(update_fields=["status"])
                touched.add((check.occurred_at.astimezone(MSK).date() - FIRST).days)
        draw(late)
        for d in sorted(touched):
            if d in stored:
                day = FIRST + timedelta(days=d)
                aggregates_rebuild(program=program, first=day, last=day, now=NOW)
        assert MemberVisit.objects.filter(program=program).exists() == bool(
            ActivityCell.objects.filter(program=program).exists()
        )

        for a, b in periods:
            period = Period(FIRST + timedelta(days=min(a, b)), FIRST + timedelta(days=max(a, b)))
            cells = program_kpis(program=program, period=period, now=NOW)
            exact = program_kpis(program=program, period=period, now=NOW, live=True)
            assert cells == exact, period
            board = dashboard(program=program, period=period, now=NOW)
            live = dashboard(program=program, period=period, now=NOW, live=True)
            assert board.outlets == live.outlets, period
            assert board.cohorts == live.cohorts, period
            assert board.previous == live.previous, period
        transaction.set_rollback(True)


def test_a_member_counted_once_across_stored_days_and_today():
    """Two checks on a stored day, one today: one active member, a repeat one, retained."""
    program = make_program(code="cells-one")
    outlet = OutletFactory(program=program)
    account = AccountFactory(
        program=program, customer=CustomerFactory(), enrolled_at=datetime(2026, 9, 1, tzinfo=MSK)
    )
    for day, hour in ((3, 10), (20, 10), (20, 11), (DAYS - 1, 10)):
        CheckFactory(
            program=program,
            account=account,
            outlet=outlet,
            occurred_at=datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), MSK)
            + timedelta(hours=hour),
        )
    aggregates_rebuild(program=program, first=FIRST, last=TODAY - timedelta(days=1), now=NOW)
    period = Period(FIRST + timedelta(days=15), TODAY)
    kpis = program_kpis(program=program, period=period, now=NOW)
    assert kpis["members"]["active"] == 1
    assert kpis["checks"]["member"] == 3
    assert kpis["repeat_rate"] == Decimal("1.0000")
    assert kpis["retention_rate"] == Decimal("1.0000")  # active in the 15 days before as well
    cells = ActivityCell.objects.filter(program=program)
    assert cells.filter(day=FIRST + timedelta(days=20)).exists()
    assert kpis == program_kpis(program=program, period=period, now=NOW, live=True)
