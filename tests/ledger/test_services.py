from decimal import Decimal

import pytest

from core import errors
from loyalty.ledger import services
from loyalty.ledger.models import Entry, EntryKind, Lot, Operation
from tests.factories import AccountFactory, ProgramFactory
from tests.ledger.helpers import D, assert_consistent, balance, days, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return AccountFactory(program=ProgramFactory(lifetime_days=30, hold_days=0))


def test_grant_creates_available_lot_with_programme_lifetime(account, now):
    op = grant(account, 100, now)
    lot = Lot.objects.get(operation=op)
    assert (lot.amount, lot.remaining) == (D(100), D(100))
    assert lot.available_at == now
    assert lot.expires_at == now + days(30)
    assert balance(account, now).available == D(100)
    assert_consistent(now, account)


def test_hold_period_keeps_points_pending_until_time_passes(now):
    account = AccountFactory(program=ProgramFactory(hold_days=14))
    grant(account, 50, now)
    assert (balance(account, now).available, balance(account, now).pending) == (D(0), D(50))
    later = now + days(14)
    # No job ran: the points matured by time alone.
    assert (balance(account, later).available, balance(account, later).pending) == (D(50), D(0))
    assert_consistent(later, account)


def test_grant_replay_with_same_key_moves_points_once(account, now):
    first = grant(account, 70, now, key="same")
    again = grant(account, 70, now, key="same")
    assert first.pk == again.pk
    assert Operation.objects.filter(account=account).count() == 1
    assert balance(account, now).available == D(70)


def test_grant_rejects_points_finer_than_precision(account, now):
    with pytest.raises(errors.ValidationFailed):
        grant(account, "1.5", now)
    assert not Operation.objects.exists()


def test_redeem_burns_lots_that_expire_first(account, now):
    late = grant(account, 100, now, key="late", lifetime_days=300)
    soon = grant(account, 100, now, key="soon", lifetime_days=10)
    services.points_redeem(
        account=account, points=D(150), source="test", idempotency_key="r1", now=now
    )
    assert Lot.objects.get(operation=soon).remaining == D(0)
    assert Lot.objects.get(operation=late).remaining == D(50)
    assert balance(account, now).available == D(50)
    assert_consistent(now, account)


def test_redeem_never_overdraws_and_writes_nothing_on_refusal(account, now):
    grant(account, 40, now)
    with pytest.raises(errors.InsufficientPoints):
        services.points_redeem(
            account=account, points=D(41), source="test", idempotency_key="r", now=now
        )
    assert Operation.objects.count() == 1
    assert balance(account, now).available == D(40)


def test_redeem_cannot_use_pending_points(now):
    account = AccountFactory(program=ProgramFactory(hold_days=7))
    grant(account, 100, now)
    with pytest.raises(errors.InsufficientPoints):
        services.points_redeem(
            account=account, points=D(1), source="test", idempotency_key="r", now=now
        )


def test_adjust_positive_and_negative_with_reason_and_user(account, now, django_user_model):
    user = django_user_model.objects.create(username="support")
    services.points_adjust(
        account=account, points=D(30), reason="goodwill", created_by=user, now=now
    )
    op = services.points_adjust(
        account=account, points=D(-10), reason="typo", created_by=user, now=now + days(1)
    )
    assert op.created_by == user and op.reason == "typo" and op.points == D(-10)
    assert balance(account, now + days(1)).available == D(20)
    assert_consistent(now + days(1), account)


def test_adjust_requires_reason_and_cannot_go_negative(account, now):
    with pytest.raises(errors.ValidationFailed) as exc:
        services.points_adjust(account=account, points=D(5), reason=" ", created_by=None, now=now)
    assert "reason" in exc.value.fields
    with pytest.raises(errors.InsufficientPoints):
        services.points_adjust(account=account, points=D(-5), reason="x", created_by=None, now=now)
    assert not Operation.objects.exists()


def test_expire_takes_only_what_remains_and_is_idempotent(account, now):
    grant(account, 100, now, key="a", lifetime_days=10)
    grant(account, 60, now, key="b", lifetime_days=100)
    services.points_redeem(account=account, points=D(30), source="t", idempotency_key="r", now=now)
    later = now + days(11)
    result = services.points_expire(now=later)
    assert (result.accounts, result.lots, result.points) == (1, 1, D(70))
    assert balance(account, later).available == D(60)
    again = services.points_expire(now=later)
    assert (again.accounts, again.lots, again.points) == (0, 0, D(0))
    assert Entry.objects.filter(kind=EntryKind.EXPIRE).count() == 1
    assert_consistent(later, account)


def test_expire_touches_pending_lots_only_when_their_expiry_passed(now):
    account = AccountFactory(program=ProgramFactory(hold_days=5, lifetime_days=30))
    grant(account, 10, now)
    assert services.points_expire(now=now + days(29)).lots == 0
    assert balance(account, now + days(29)).available == D(10)
    assert services.points_expire(now=now + days(30)).points == D(10)
    assert balance(account, now + days(30)).available == D(0)


def test_accounts_are_independent(now):
    program = ProgramFactory()
    a, b = AccountFactory(program=program), AccountFactory(program=program)
    grant(a, 10, now)
    grant(b, 20, now)
    assert (balance(a, now).available, balance(b, now).available) == (D(10), D(20))
    assert_consistent(now)


def test_reconcile_reports_a_tampered_lot(account, now):
    op = grant(account, 10, now)
    Lot.objects.filter(operation=op).update(remaining=Decimal("9"))
    found = services.ledger_reconcile(now=now)
    assert {d.invariant for d in found} == {1, 4}
