"""ledger_reconcile and `manage.py reconcile_ledger`: each invariant, and the exit status."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command, get_commands, load_command_class

from loyalty.ledger import services
from loyalty.ledger.models import (
    Account,
    Check,
    Entry,
    EntryKind,
    Lot,
    LotKind,
    Operation,
    OperationKind,
)
from tests.factories import AccountFactory, CheckFactory, ProgramFactory
from tests.ledger.helpers import D, assert_consistent, days, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return AccountFactory(
        program=ProgramFactory(lifetime_days=30, allow_negative_after_refund=True)
    )


def invariants(now, account=None):
    ids = [account.pk] if account is not None else None
    return {d.invariant for d in services.ledger_reconcile(now=now, account_ids=ids)}


@pytest.fixture
def run_command(monkeypatch):
    # run_from_argv closes every connection when it ends; the test's transaction must live on.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)
    return _run_command


def _run_command(*argv):
    """Run the command as the shell does; returns (exit status, output)."""
    out, err = io.StringIO(), io.StringIO()
    command = load_command_class(get_commands()["reconcile_ledger"], "reconcile_ledger")
    command.stdout._out, command.stderr._out = out, err
    try:
        command.run_from_argv(["manage.py", "reconcile_ledger", *argv])
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, out.getvalue() + err.getvalue()


def test_a_busy_consistent_ledger_has_no_discrepancy(account, now, run_command):
    grant(account, 100, now, key="a", lifetime_days=5)
    grant(account, 50, now, key="b")
    services.points_redeem(account=account, points=D(120), source="t", idempotency_key="r", now=now)
    services.points_adjust(account=account, points=D(-10), reason="x", created_by=None, now=now)
    services.points_expire(now=now + days(40))
    assert_consistent(now + days(40), account)
    assert run_command() == (0, "Ledger consistent.\n")


def test_invariant_1_cached_balance_differs_from_the_lots(account, now):
    grant(account, 10, now)
    Account.objects.filter(pk=account.pk).update(available=Decimal("11"))
    assert invariants(now, account) == {1}


def test_invariant_2_debt_where_the_programme_forbids_it(account, now):
    op = grant(account, 10, now)
    debt_op = Operation.objects.create(
        program=account.program,
        account=account,
        kind=OperationKind.REFUND,
        source="t",
        idempotency_key="debt",
        occurred_at=now,
    )
    debt = Lot.objects.create(
        account=account,
        operation=debt_op,
        kind=LotKind.DEBT,
        amount=D(-5),
        remaining=D(-5),
        available_at=now,
    )
    Entry.objects.create(operation=debt_op, account=account, lot=debt, kind="debt", amount=D(-5))
    Account.objects.filter(pk=account.pk).update(available=D(5))
    assert invariants(now, account) == {2}  # debt beside a positive lot
    Lot.objects.filter(operation=op).update(remaining=0)
    Entry.objects.create(
        operation=op, account=account, lot=Lot.objects.get(operation=op), kind="redeem", amount=-10
    )
    Account.objects.filter(pk=account.pk).update(available=D(-5))
    assert invariants(now, account) == set()  # a debt alone is allowed here...
    account.program.allow_negative_after_refund = False
    account.program.save()
    assert invariants(now, account) == {2}  # ...and not in a programme that forbids it


def test_invariant_3_a_check_committed_twice(account, now):
    check = CheckFactory(account=account)
    for key in ("c1", "c2"):
        Operation.objects.create(
            program=account.program,
            account=account,
            kind=OperationKind.CHECK,
            source="pos",
            idempotency_key=key,
            check_obj=check,
            occurred_at=now,
        )
    assert invariants(now, account) == {3}
    assert Check.objects.count() == 1


def test_invariant_4_points_that_vanish_without_an_explaining_entry(account, now):
    op = grant(account, 10, now)
    lot = Lot.objects.get(operation=op)
    Entry.objects.create(operation=op, account=account, lot=lot, kind=EntryKind.EARN, amount=-4)
    Lot.objects.filter(pk=lot.pk).update(remaining=6)
    Account.objects.filter(pk=account.pk).update(available=6)
    assert invariants(now, account) == {4}


def test_invariant_5_an_operation_that_moves_another_accounts_lot(account, now):
    other = AccountFactory(program=account.program)
    grant(account, 10, now, key="mine")
    theirs = grant(other, 10, now, key="theirs")
    mine = Operation.objects.get(account=account)
    lot = Lot.objects.get(operation=theirs)
    # A redemption of ``account`` burning ``other``'s lot: no lock protected that write.
    Entry.objects.create(operation=mine, account=other, lot=lot, kind=EntryKind.REDEEM, amount=-3)
    Lot.objects.filter(pk=lot.pk).update(remaining=7)
    Account.objects.filter(pk=other.pk).update(available=7)
    assert invariants(now, other) == {5}


def test_the_command_prints_each_discrepancy_and_exits_non_zero(account, now, run_command):
    grant(account, 10, now)
    healthy = AccountFactory(program=account.program)
    grant(healthy, 10, now, key="h")
    Account.objects.filter(pk=account.pk).update(available=Decimal("99"))

    status, output = run_command()
    assert status == 1
    assert (
        f"account {account.pk}: invariant 1: cached 99.00 vs entries 10.00 vs lots 10.00" in output
    )
    assert "cached split 99.00/0.00 vs lots 10.00/0.00" in output
    assert output.endswith("CommandError: 2 discrepancies found\n")

    assert run_command("--account", str(healthy.pk)) == (0, "Ledger consistent.\n")


def test_call_command_raises_on_discrepancy(account, now):
    grant(account, 10, now)
    Lot.objects.filter(account=account).update(remaining=Decimal("3"))
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="discrepancies found"):
        call_command("reconcile_ledger", stdout=io.StringIO())
