"""Random sequences of ledger operations; every invariant holds after every step."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from core import errors
from loyalty.ledger import services
from loyalty.ledger.models import Account, Entry, Lot
from loyalty.ledger.selectors import account_balance
from tests.factories import AccountFactory, ProgramFactory

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
points = st.integers(min_value=1, max_value=500).map(Decimal)


class LedgerMachine(RuleBasedStateMachine):
    @initialize(hold=st.sampled_from([0, 3]), negative=st.booleans())
    def setup(self, hold, negative):
        program = ProgramFactory(
            lifetime_days=30, hold_days=hold, allow_negative_after_refund=negative
        )
        self.account = AccountFactory(program=program)
        self.now = T0
        self.n = 0

    def key(self):
        self.n += 1
        return f"k{self.n}"

    def balance(self):
        return account_balance(Account.objects.get(pk=self.account.pk), now=self.now)

    @rule(amount=points, lifetime=st.sampled_from([None, 5, 60]))
    def grant(self, amount, lifetime):
        services.points_grant(
            account=self.account,
            points=amount,
            source="sm",
            idempotency_key=self.key(),
            now=self.now,
            lifetime_days=lifetime,
        )

    @rule(amount=points)
    def redeem(self, amount):
        before = self.balance()
        try:
            services.points_redeem(
                account=self.account,
                points=amount,
                source="sm",
                idempotency_key=self.key(),
                now=self.now,
            )
        except errors.InsufficientPoints:
            assert amount > before.available
            assert self.balance() == before
        else:
            assert self.balance().available == before.available - amount

    @rule(amount=st.integers(min_value=-300, max_value=300).filter(bool).map(Decimal))
    def adjust(self, amount):
        before = self.balance()
        try:
            services.points_adjust(
                account=self.account,
                points=amount,
                reason="sm",
                created_by=None,
                now=self.now,
                idempotency_key=self.key(),
            )
        except errors.InsufficientPoints:
            assert -amount > before.total
        else:
            assert self.balance().total == before.total + amount

    @rule(hours=st.integers(min_value=1, max_value=24 * 20))
    def time_passes_and_expiry_runs(self, hours):
        self.now += timedelta(hours=hours)
        services.points_expire(now=self.now)
        assert not Lot.objects.filter(
            account=self.account, remaining__gt=0, expires_at__lte=self.now
        ).exists()

    @invariant()
    def ledger_reconciles(self):
        if not hasattr(self, "account"):
            return
        assert services.ledger_reconcile(now=self.now, account_ids=[self.account.pk]) == []
        assert self.balance().available >= 0

    @invariant()
    def issued_points_are_accounted_for(self):
        if not hasattr(self, "account"):
            return
        lots = Lot.objects.filter(account=self.account).exclude(kind="debt")
        issued = sum((lot.amount for lot in lots), Decimal(0))
        remaining = sum((lot.remaining for lot in lots), Decimal(0))
        out = sum(
            (
                -e.amount
                for e in Entry.objects.filter(lot__in=lots, amount__lt=0)
                if e.kind in {"redeem", "expire", "clawback", "adjust", "repay"}
            ),
            Decimal(0),
        )
        assert issued == remaining + out


@pytest.mark.django_db
def test_random_operation_sequences_keep_every_invariant():
    # One transaction for all examples: each example opens its own programme and account,
    # and every check is scoped to that account.
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
