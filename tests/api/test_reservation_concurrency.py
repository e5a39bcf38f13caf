"""Two-phase payment under concurrency, on PostgreSQL: real threads, one connection each.

A confirmation racing the release job or a cancel, and a reservation racing a commit on the
same account: whichever takes the account lock first wins, the other sees its result, no
point is paid twice, and the ledger reconciles.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from core import errors
from loyalty.ledger.models import Account, Check, CheckStatus, Entry, EntryKind, Lot, LotKind
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import (
    account_open,
    check_cancel,
    check_confirm,
    check_reserve,
    ledger_reconcile,
    reservations_release,
)
from loyalty.rules.engine import LineInput
from tests.api.conftest import D, latte
from tests.factories import CustomerFactory
from tests.ledger.helpers import grant

pytestmark = pytest.mark.usefixtures("on_postgres", "transactional_db")

ROUNDS = 4


def in_threads(*calls):
    """Run each call in its own thread (own connection), all released at once; their results
    or the exceptions they raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # the loser's answer
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def lines():
    return [
        LineInput(
            sku="LATTE",
            category="coffee",
            name="Latte",
            quantity=D(2),
            price=D("250.00"),
            amount=D("500.00"),
            is_promo=False,
        )
    ]


def reserved(program, outlet, i, now):
    customer = CustomerFactory(phone=f"+7999123{i:04d}")
    account = account_open(program=program, customer=customer, now=now, outlet=outlet)
    grant(account, 1000, now, key=f"seed-{i}")
    done = check_reserve(
        program=program,
        outlet=outlet,
        customer=customer,
        lines=lines(),
        redeem=D(100),
        receipt_number=f"R{i}",
        source="test",
        idempotency_key=f"reserve-{i}",
        now=now,
    )
    return account, done.check


def test_confirm_racing_the_release_job(program, outlet):
    outcomes = set()
    for i in range(ROUNDS):
        # An hour apart: each round's job run finds only its own reservation still open.
        account, check = reserved(program, outlet, i, timezone.now() + timedelta(hours=i))
        until = check.reserved_until
        # The till confirms a second before the end; the job runs a second after it.
        confirm, release = in_threads(
            lambda check=check, i=i, until=until: check_confirm(
                check=check,
                source="test",
                idempotency_key=f"c-{i}",
                now=until - timedelta(seconds=1),
            ),
            lambda until=until: reservations_release(now=until + timedelta(seconds=1)),
        )
        check.refresh_from_db()
        acc = Account.objects.get(pk=account.pk)
        later = until + timedelta(seconds=2)
        if isinstance(confirm, errors.ReservationExpired):
            outcomes.add("released")
            assert check.status == CheckStatus.RESERVATION_EXPIRED
            assert account_balance(acc, now=later).available == D(1000)
        else:
            assert not isinstance(confirm, Exception), confirm
            outcomes.add("confirmed")
            assert check.status == CheckStatus.COMPLETED
            assert account_balance(acc, now=later).available == D(940)
            assert not isinstance(release, Exception), release
        assert acc.held == 0
        burnt = Entry.objects.filter(account=acc, kind=EntryKind.REDEEM).aggregate(s=Sum("amount"))
        assert (burnt["s"] or 0) in (0, D(-100))  # the hold paid once, or not at all
        assert ledger_reconcile(now=later, account_ids=[acc.pk]) == []
    assert outcomes  # which order won is the scheduler's; both are consistent
    print(f"confirm vs release: {sorted(outcomes)}")


def test_confirm_racing_cancel(program, outlet):
    now = timezone.now()
    for i in range(ROUNDS):
        account, check = reserved(program, outlet, 100 + i, now)
        confirm, cancel = in_threads(
            lambda check=check, i=i: check_confirm(
                check=check, source="test", idempotency_key=f"c-{i}", now=now
            ),
            lambda check=check, i=i: check_cancel(
                check=check, source="test", idempotency_key=f"x-{i}", now=now
            ),
        )
        assert not isinstance(cancel, Exception), cancel  # a confirmed check can be voided
        if isinstance(confirm, Exception):
            assert isinstance(confirm, errors.CheckAlreadyCancelled), confirm
        check.refresh_from_db()
        assert check.status == CheckStatus.CANCELLED
        acc = Account.objects.get(pk=account.pk)
        # Either order ends where it began: released, or confirmed and then reversed.
        assert (acc.available, acc.pending, acc.held) == (D(1000), D(0), D(0))
        assert acc.lifetime_visits == 0
        assert ledger_reconcile(now=now, account_ids=[acc.pk]) == []


def test_reserve_racing_commit_on_one_account(program, outlet, api_key):
    # 250 points; each request redeems 200 of a 1000.00 check (at most 300 allowed): only
    # one of them can be paid, whichever is reserve or commit.
    customer = CustomerFactory(phone="+79991234567")
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    grant(account, 250, timezone.now(), key="seed")
    body = {
        "customer": {"phone": "+79991234567"},
        "lines": [latte(qty="4")],
        "redeem_points": "200",
    }

    def call(url, receipt):
        def go():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}", HTTP_ACCEPT_LANGUAGE="en")
            return client.post(
                url,
                {**body, "receipt_number": receipt},
                format="json",
                HTTP_IDEMPOTENCY_KEY=receipt,
            )

        return go

    calls = []
    for i in range(3):
        calls.append(call("/api/v1/checks/reserve", f"res-{i}"))
        calls.append(call("/api/v1/checks", f"com-{i}"))
    responses = in_threads(*calls)
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 1, [r.content for r in responses]
    assert codes.count(422) == 5
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {
        "redeem_limit_exceeded"
    }
    burnt = Entry.objects.filter(kind=EntryKind.REDEEM).aggregate(s=Sum("amount"))["s"] or 0
    held = Lot.objects.filter(kind=LotKind.HOLD).aggregate(s=Sum("remaining"))["s"] or 0
    assert -burnt + held == D(200)  # paid once: burnt by the commit, or held by the reservation
    assert Check.objects.count() == 1
    assert ledger_reconcile(now=timezone.now()) == []
