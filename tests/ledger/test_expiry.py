"""Point expiry (both implementations): partial redemption, pending lots, chunks, idempotency."""

import threading

import pytest
from django.db import connection, connections

from core.models import JobRun, JobStatus
from loyalty.ledger import services
from loyalty.ledger.jobs import expiry_job
from loyalty.ledger.models import Account, Entry, EntryKind, Lot, Operation, OperationKind
from loyalty.ledger.services import points_expire
from tests.factories import AccountFactory, ProgramFactory
from tests.ledger.helpers import D, assert_consistent, balance, days, grant

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["orm", "sql"])
def method(request):
    if request.param == "sql" and connection.vendor != "postgresql":
        pytest.skip("the set-based SQL path runs on PostgreSQL (CI)")
    return request.param


@pytest.fixture
def program():
    return ProgramFactory(lifetime_days=30, hold_days=0)


def test_partly_redeemed_lot_expires_only_what_remains(program, now, method):
    account = AccountFactory(program=program)
    first = grant(account, 100, now, key="a", lifetime_days=10)
    grant(account, 60, now, key="b", lifetime_days=100)
    services.points_redeem(account=account, points=D(30), source="t", idempotency_key="r", now=now)
    later = now + days(11)

    result = points_expire(now=later, method=method)

    assert (result.accounts, result.lots, result.points) == (1, 1, D(70))
    lot = Lot.objects.get(operation=first)
    assert lot.remaining == 0
    entry = Entry.objects.get(kind=EntryKind.EXPIRE)
    assert (entry.lot_id, entry.amount) == (lot.pk, D(-70))
    op = Operation.objects.get(kind=OperationKind.EXPIRE)
    assert (op.points, op.source, op.occurred_at) == (D(-70), "job:expire", later)
    assert op.idempotency_key == f"expire:{account.pk}:{later.isoformat()}"
    cached = Account.objects.get(pk=account.pk)
    assert (cached.available, cached.pending) == (D(60), D(0))
    assert_consistent(later, account)


def test_a_fully_redeemed_lot_is_left_alone(program, now, method):
    account = AccountFactory(program=program)
    grant(account, 50, now, key="a", lifetime_days=10)
    services.points_redeem(account=account, points=D(50), source="t", idempotency_key="r", now=now)
    assert points_expire(now=now + days(11), method=method).lots == 0
    assert not Operation.objects.filter(kind=OperationKind.EXPIRE).exists()


def test_a_pending_lot_expires_when_its_expiry_passes_before_it_matured(now, method):
    account = AccountFactory(program=ProgramFactory(hold_days=5, lifetime_days=30))
    grant(account, 40, now, key="held", hold_days=5, lifetime_days=3)
    grant(account, 10, now, key="later", hold_days=5, lifetime_days=30)
    moment = now + days(4)
    before = Account.objects.get(pk=account.pk)
    # The cache is valid until the first change by time alone: here the 3-day expiry.
    assert (before.pending, before.pending_release_at) == (D(50), now + days(3))
    assert balance(account, moment).pending == D(10)  # gone at once, before the job ran

    result = points_expire(now=moment, method=method)

    assert (result.lots, result.points) == (1, D(40))
    after = Account.objects.get(pk=account.pk)
    assert (after.available, after.pending, after.pending_release_at) == (
        D(0),
        D(10),
        now + days(5),
    )
    assert balance(account, now + days(6)).available == D(10)
    assert_consistent(moment, account)


def test_the_expiry_instant_itself_counts_as_expired(program, now, method):
    account = AccountFactory(program=program)
    grant(account, 5, now, lifetime_days=1)
    assert points_expire(now=now + days(1), method=method).points == D(5)


def test_many_accounts_across_chunks(program, now, method):
    accounts = [AccountFactory(program=program) for _ in range(5)]
    for i, account in enumerate(accounts):
        grant(account, 10 + i, now, key=f"old-{i}", lifetime_days=5)
        grant(account, 7, now, key=f"old2-{i}", lifetime_days=6)
        grant(account, 100, now, key=f"new-{i}", lifetime_days=300)
    untouched = AccountFactory(program=program)
    grant(untouched, 9, now, key="u", lifetime_days=300)
    later = now + days(7)

    result = points_expire(now=later, method=method, chunk_size=2)

    assert (result.accounts, result.lots) == (5, 10)
    assert result.points == sum(D(10 + i + 7) for i in range(5))
    assert Operation.objects.filter(kind=OperationKind.EXPIRE).count() == 5
    assert not Operation.objects.filter(account=untouched, kind=OperationKind.EXPIRE).exists()
    for account in accounts:
        assert Account.objects.get(pk=account.pk).available == D(100)
    assert_consistent(later, *accounts, untouched)


def test_a_second_run_changes_nothing(program, now, method):
    account = AccountFactory(program=program)
    grant(account, 10, now, lifetime_days=1)
    later = now + days(2)
    points_expire(now=later, method=method)
    state = (
        list(Entry.objects.order_by("pk").values_list("pk", "amount")),
        list(Lot.objects.order_by("pk").values_list("pk", "remaining")),
    )
    again = points_expire(now=later, method=method)
    assert (again.accounts, again.lots, again.points) == (0, 0, D(0))
    assert state == (
        list(Entry.objects.order_by("pk").values_list("pk", "amount")),
        list(Lot.objects.order_by("pk").values_list("pk", "remaining")),
    )


def test_one_programme_only(now, method):
    a = AccountFactory(program=ProgramFactory(lifetime_days=1))
    b = AccountFactory(program=ProgramFactory(lifetime_days=1))
    grant(a, 3, now)
    grant(b, 4, now)
    result = points_expire(now=now + days(2), program_id=a.program_id, method=method)
    assert result.points == D(3)
    # b's lot was left to its own programme's run; its points are gone all the same.
    assert Lot.objects.get(account=b).remaining == D(4)
    assert balance(b, now + days(2)).available == 0
    assert_consistent(now + days(2), a, b)


@pytest.mark.usefixtures("on_postgres")
def test_both_implementations_write_the_same_rows(now):
    def scenario(tag):
        program = ProgramFactory(code=f"same-{tag}", lifetime_days=10, hold_days=2)
        account = AccountFactory(program=program)
        grant(account, 30, now, key=f"{tag}-1", lifetime_days=5)
        grant(account, 20, now, key=f"{tag}-2", lifetime_days=1)
        grant(account, 70, now, key=f"{tag}-3", lifetime_days=50)
        return account

    orm_account, sql_account = scenario("orm"), scenario("sql")
    later = now + days(6)
    points_expire(now=later, program_id=orm_account.program_id, method="orm")
    points_expire(now=later, program_id=sql_account.program_id, method="sql")

    def shape(account):
        acc = Account.objects.get(pk=account.pk)
        ops = list(
            Operation.objects.filter(account=account, kind=OperationKind.EXPIRE).values_list(
                "points", "source", "description", "occurred_at", "meta"
            )
        )
        entries = list(
            Entry.objects.filter(account=account, kind=EntryKind.EXPIRE)
            .order_by("lot__amount")
            .values_list("lot__amount", "amount")
        )
        return (acc.available, acc.pending, acc.pending_release_at), ops, entries

    assert shape(orm_account) == shape(sql_account)
    assert_consistent(later, orm_account, sql_account)


def test_the_job_runs_once_per_hour_and_records_its_figures(program, now):
    account = AccountFactory(program=program)
    grant(account, 12, now, lifetime_days=1)
    later = now + days(2)

    first = expiry_job(now=later)
    second = expiry_job(now=later + days(0) + __import__("datetime").timedelta(minutes=30))

    assert not first.skipped and second.skipped
    run = JobRun.objects.get(job="ledger.points_expire")
    assert (run.status, run.rows_touched) == (JobStatus.SUCCEEDED, 1)
    assert run.details == {"accounts": 1, "lots": 1, "points": "12.00"}
    assert run.period_key == later.strftime("%Y-%m-%dT%HZ")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("on_postgres")
def test_concurrent_runs_expire_every_lot_exactly_once(now):
    program = ProgramFactory(lifetime_days=1)
    accounts = [AccountFactory(program=program) for _ in range(12)]
    for i, account in enumerate(accounts):
        grant(account, 5, now, key=f"a{i}")
        grant(account, 6, now, key=f"b{i}")
    later = now + days(2)
    barrier = threading.Barrier(3)
    results = [None] * 3

    def run(index):
        try:
            barrier.wait()
            results[index] = points_expire(now=later, chunk_size=3, workers=2)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.lots for r in results) == 24
    assert sum(r.points for r in results) == D(11 * 12)
    assert Entry.objects.filter(kind=EntryKind.EXPIRE).count() == 24
    assert_consistent(later, *accounts)
