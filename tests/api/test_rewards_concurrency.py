"""Claims racing on PostgreSQL with real threads: stock and limits are never oversold."""

import threading
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.ledger.models import Account, Coupon, Entry, EntryKind, Operation, OperationKind
from loyalty.ledger.services import account_open, ledger_reconcile
from loyalty.rules.models import Reward
from tests.factories import CustomerFactory, RewardFactory
from tests.ledger.helpers import grant

THREADS = 8


def claim_concurrently(api_key, requests):
    """Each (reward code, phone, key) claimed from its own thread, all released at once."""
    barrier = threading.Barrier(len(requests))
    responses = [None] * len(requests)

    def worker(i, code, phone, key):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}", HTTP_ACCEPT_LANGUAGE="en")
        try:
            barrier.wait()
            responses[i] = client.post(
                f"/api/v1/rewards/{code}/claim",
                {"customer": {"phone": phone}},
                format="json",
                HTTP_IDEMPOTENCY_KEY=key,
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, *req)) for i, req in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


def members(program, outlet, n, points):
    phones = [f"+7999000{i:04d}" for i in range(n)]
    for phone in phones:
        account = account_open(
            program=program,
            customer=CustomerFactory(phone=phone),
            now=timezone.now(),
            outlet=outlet,
        )
        grant(account, points, timezone.now(), key=f"seed-{phone}")
    return phones


def test_n_claims_racing_for_stock_k_issue_exactly_k_coupons(
    on_postgres, transactional_db, program, outlet, api_key
):
    reward = RewardFactory(program=program, code="last-three", points_cost=Decimal(100), stock=3)
    phones = members(program, outlet, THREADS, 500)
    responses = claim_concurrently(
        api_key, [("last-three", phone, f"k-{i}") for i, phone in enumerate(phones)]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [422] * (THREADS - 3), [r.content for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"reward_unavailable"}
    reward.refresh_from_db()
    assert reward.claimed == 3
    assert Coupon.objects.filter(reward=reward).count() == 3
    claims = Operation.objects.filter(kind=OperationKind.REWARD)
    assert claims.count() == 3
    burnt = Entry.objects.filter(operation__in=claims, kind=EntryKind.REDEEM)
    assert sum(e.amount for e in burnt) == Decimal(-300)
    assert sorted(a.available for a in Account.objects.filter(program=program)) == (
        [Decimal(400)] * 3 + [Decimal(500)] * (THREADS - 3)
    )
    assert ledger_reconcile(now=timezone.now()) == []


def test_one_customer_racing_claims_never_exceed_the_per_customer_limit(
    on_postgres, transactional_db, program, outlet, api_key
):
    RewardFactory(program=program, code="cheap", points_cost=Decimal(200), limit_per_customer=3)
    (phone,) = members(program, outlet, 1, 1000)
    responses = claim_concurrently(api_key, [("cheap", phone, f"k-{i}") for i in range(6)])
    # Five claims' worth of points, but three per customer: three coupons, 400 points left.
    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 3
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"reward_unavailable"}
    account = Account.objects.get(program=program)
    assert account.available == Decimal(400)
    assert Coupon.objects.count() == 3
    assert Reward.objects.get(code="cheap").claimed == 3
    assert ledger_reconcile(now=timezone.now()) == []
