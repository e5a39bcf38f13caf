"""REPORTS.md's ledger identity over random operation sequences, live and from aggregates:

outstanding(to) − outstanding(day before from)
    = issued + restored + adjusted − redeemed − expired − clawed_back
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import errors
from loyalty.ledger.models import Account, Check, CheckStatus, Entry
from loyalty.ledger.services import points_expire
from reports.periods import Period
from reports.selectors.kpis import DaySource, program_kpis
from reports.services import aggregates_rebuild
from tests.factories import CustomerFactory, OutletFactory
from tests.reports.dataset import Builder, make_program

pytestmark = pytest.mark.django_db
MSK = ZoneInfo("Europe/Moscow")
START = datetime(2026, 11, 1, 9, tzinfo=MSK)
NOW = datetime(2026, 12, 1, 12, tzinfo=MSK)

op = st.one_of(
    st.tuples(st.just("check"), st.integers(0, 2), st.integers(1, 40), st.integers(0, 30)),
    st.tuples(st.just("anonymous"), st.integers(1, 40)),
    st.tuples(st.just("grant"), st.integers(0, 2), st.integers(1, 50)),
    st.tuples(st.just("adjust"), st.integers(0, 2), st.integers(-30, 30)),
    st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(
        st.just("expire"),
    ),
)
step = st.tuples(op, st.integers(0, 30))  # (operation, hours later)


def apply(b, customers, accounts, checks, operation, when):
    kind = operation[0]
    try:
        if kind == "check":
            _, who, tens, redeem = operation
            checks.append(
                b.check(customers[who], 10 * tens, when, qty=2, redeem=Decimal(redeem) or None)
            )
        elif kind == "anonymous":
            b.check(None, 10 * operation[1], when)
        elif kind == "grant":
            b.grant(accounts(operation[1]), operation[2], when, lifetime_days=3)
        elif kind == "adjust" and operation[2]:
            b.adjust(accounts(operation[1]), operation[2], when)
        elif kind == "refund" and checks:
            check = Check.objects.get(pk=checks[operation[1] % len(checks)].pk)
            b.refund(check, when, lines=[(0, Decimal(1))] if operation[2] < 3 else None)
        elif kind == "cancel" and checks:
            b.cancel(Check.objects.get(pk=checks[operation[1] % len(checks)].pk), when)
        elif kind == "expire":
            points_expire(now=when, program_id=b.program.pk)
    except (errors.DomainError, Account.DoesNotExist):
        pass  # refused operations (too many points, already refunded) move nothing


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    steps=st.lists(step, min_size=5, max_size=25), cut=st.integers(0, 28), span=st.integers(0, 6)
)
def test_the_ledger_identity_holds_for_random_histories(steps, cut, span):
    with transaction.atomic():
        program = make_program(code="identity")
        b = Builder(program, OutletFactory(program=program))
        customers = [CustomerFactory() for _ in range(3)]
        for customer in customers:
            b.account(customer, START)

        def account(n):
            return Account.objects.get(program=program, customer=customers[n])

        checks, when = [], START
        for operation, hours in steps:
            when += timedelta(hours=hours)
            apply(b, customers, account, checks, operation, min(when, NOW - timedelta(hours=1)))
        total = sum(Entry.objects.filter(account__program=program).values_list("amount", flat=True))
        first = date(2026, 11, 1) + timedelta(days=cut)
        period = Period(first, min(first + timedelta(days=span), date(2026, 11, 30)))
        aggregates_rebuild(
            program=program, first=date(2026, 10, 25), last=date(2026, 11, 30), now=NOW
        )
        for live in (True, False):
            kpis = program_kpis(program=program, period=period, now=NOW, live=live)
            pts = {k: Decimal(v) for k, v in kpis["points"].items()}
            source = DaySource(program, now=NOW, live=live)
            before = source.outstanding(period.first - timedelta(days=1))
            flows = (
                pts["issued"]
                + pts["restored"]
                + pts["adjusted"]
                - pts["redeemed"]
                - pts["expired"]
                - pts["clawed_back"]
            )
            assert pts["outstanding"] - before == flows
            assert source.outstanding(date(2026, 11, 30)) == total
            counted = Check.objects.filter(program=program).exclude(status=CheckStatus.CANCELLED)
            whole = program_kpis(
                program=program,
                period=Period(date(2026, 10, 25), date(2026, 11, 30)),
                now=NOW,
                live=live,
            )
            assert whole["checks"]["member"] + whole["checks"]["anonymous"] == counted.count()
        transaction.set_rollback(True)
