"""Concurrent requests on PostgreSQL: commits on one account never overdraw; one key acts once."""

import re
import threading

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.ledger.models import Account, Check, Entry, EntryKind
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import account_open, ledger_reconcile
from tests.api.conftest import latte
from tests.factories import CustomerFactory
from tests.ledger.helpers import grant

THREADS = 6


def run_concurrently(api_key, requests):
    """Each (body, key) posted to /api/v1/checks from its own thread, all released at once."""
    barrier = threading.Barrier(len(requests))
    responses = [None] * len(requests)

    def worker(i, body, key):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}", HTTP_ACCEPT_LANGUAGE="en")
        try:
            barrier.wait()
            responses[i] = client.post(
                "/api/v1/checks", body, format="json", HTTP_IDEMPOTENCY_KEY=key
            )
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, body, key))
        for i, (body, key) in enumerate(requests)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


@pytest.fixture
def member(program, outlet):
    customer = CustomerFactory(phone="+79991234567")
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    grant(account, 250, timezone.now(), key="seed")
    return customer


def test_concurrent_commits_on_one_account_never_overdraw(
    on_postgres, transactional_db, api_key, member
):
    # 250 points; six checks of 500.00 each redeem 100 and earn 5 % of 400 + 20 = 40. Done one
    # after another the balance goes 250 → 190 → 130 → 70 and three are refused. Concurrently
    # a request judges what is available at the `now` it took before waiting for the lock, so
    # a lot earned meanwhile may still be pending for it: two or three go through, never more.
    requests = [
        (
            {
                "customer": {"phone": "+79991234567"},
                "lines": [latte()],
                "redeem_points": "100",
                "receipt_number": f"R{i}",
            },
            f"key-{i}",
        )
        for i in range(THREADS)
    ]
    responses = run_concurrently(api_key, requests)
    won = sum(r.status_code == 201 for r in responses)
    assert 2 <= won <= 3, [r.content for r in responses]
    assert sorted(r.status_code for r in responses) == [201] * won + [422] * (THREADS - won)
    refused = [r.json() for r in responses if r.status_code == 422]
    assert {r["code"] for r in refused} == {"redeem_limit_exceeded"}
    assert all(
        re.fullmatch(r"At most \d+ points can be redeemed on this check\.", r["detail"])
        for r in refused
    ), refused
    # Every discount was paid by burnt points: nothing redeemed that the lots did not hold.
    burnt = Entry.objects.filter(kind=EntryKind.REDEEM).aggregate(s=Sum("amount"))["s"]
    assert burnt == -100 * won
    assert Check.objects.count() == won
    account = Account.objects.get(customer=member)
    # The cached split may still count the last lot as pending; the balance at `now` does not.
    assert account_balance(account, now=timezone.now()).available == 250 - 60 * won
    assert ledger_reconcile(now=timezone.now()) == []


def test_concurrent_requests_with_one_key_act_once(on_postgres, transactional_db, api_key, member):
    body = {
        "customer": {"phone": "+79991234567"},
        "lines": [latte()],
        "redeem_points": "100",
        "receipt_number": "R1",
    }
    responses = run_concurrently(api_key, [(body, "same-key")] * THREADS)
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert Check.objects.count() == 1
    assert Account.objects.get(customer=member).available == 250 - 100 + 40
    assert ledger_reconcile(now=timezone.now()) == []


def test_concurrent_same_key_different_bodies(on_postgres, transactional_db, api_key, member):
    bodies = [{"lines": [latte(qty=str(i + 1))], "receipt_number": f"R{i}"} for i in range(THREADS)]
    responses = run_concurrently(api_key, [(b, "shared") for b in bodies])
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (THREADS - 1)
    assert Check.objects.count() == 1
