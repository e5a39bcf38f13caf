"""Real concurrency on PostgreSQL: row locks on the account serialise writers."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from core import errors
from loyalty.ledger import services
from loyalty.ledger.models import Operation
from tests.factories import AccountFactory, ProgramFactory
from tests.ledger.helpers import D, assert_consistent, balance, grant

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn, results, index):
    try:
        results[index] = fn()
    except Exception as exc:  # the test inspects what each thread got
        results[index] = exc
    finally:
        connections.close_all()


def test_threads_redeeming_from_one_account_never_overdraw(on_postgres, now):
    account = AccountFactory(program=ProgramFactory())
    grant(account, 100, now)
    barrier = threading.Barrier(8)

    def redeem(i):
        def run():
            barrier.wait()
            return services.points_redeem(
                account=account, points=D(30), source="t", idempotency_key=f"r{i}", now=now
            )

        return run

    results = [None] * 8
    threads = [threading.Thread(target=_in_thread, args=(redeem(i), results, i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    succeeded = [r for r in results if isinstance(r, Operation)]
    refused = [r for r in results if isinstance(r, errors.InsufficientPoints)]
    assert (len(succeeded), len(refused)) == (3, 5)
    assert balance(account, now).available == D(10)
    assert_consistent(now, account)


def test_same_idempotency_key_from_many_threads_moves_points_once(on_postgres, now):
    account = AccountFactory(program=ProgramFactory())
    barrier = threading.Barrier(6)

    def run():
        barrier.wait()
        return grant(account, 25, now, key="one-key")

    results = [None] * 6
    threads = [threading.Thread(target=_in_thread, args=(run, results, i)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(r, Operation) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert balance(account, now).available == D(25)


def test_two_accounts_do_not_block_each_other(on_postgres, now):
    program = ProgramFactory()
    a, b = AccountFactory(program=program), AccountFactory(program=program)
    grant(a, 10, now, key="a")
    locked = threading.Event()
    release = threading.Event()

    def hold_lock_on_a():
        with transaction.atomic():
            # The ledger's own lock (it joins the programme): it must not lock the programme row.
            services.account_lock(a.pk)
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=_in_thread, args=(hold_lock_on_a, [None], 0))
    holder.start()
    assert locked.wait(10)
    try:
        with connection.cursor() as cursor:
            # Fail fast instead of waiting if b were (wrongly) blocked by a's lock.
            cursor.execute("SET lock_timeout = '2s'")
        grant(b, 5, now, key="b")
        assert balance(b, now).available == D(5)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        with pytest.raises(Exception, match="lock timeout"):
            grant(a, 5, now, key="a2")
    finally:
        release.set()
        holder.join(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert balance(a, now).available == Decimal("10")
