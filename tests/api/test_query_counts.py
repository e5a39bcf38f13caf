"""calculate and commit run the same number of queries for 1 line and for 50 lines."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.ledger.services import account_open
from tests.api.conftest import latte
from tests.factories import CustomerFactory
from tests.ledger.helpers import grant

pytestmark = pytest.mark.django_db

# Measured on PostgreSQL (docs/benchmarks.md, "Commit cost"; before: calculate 17, commit 48).
# calculate 3 = key + customer + account (with the programme's configuration version; the
# spec comes from the per-process cache, and this programme's rules read neither segments nor
# offers, and its only limited rule is an event rule, so no provider or usage query runs).
# commit 15 = key + customer + the account lock (with the version and the replay probe) + the
# open lots (the FIFO page and the debts, one UNION) + check + lines + operation + awards +
# lots + the entries, the lots burnt and the account's balances and counters (one statement
# of data-modifying CTEs; 16 before) + the points-earned template and message + the
# idempotency row, and the transaction's BEGIN/COMMIT (SAVEPOINT/RELEASE under the test's
# transaction). SQLite runs the debt probe, the entries and the two updates separately: 18.
# A budgeted rule adds its lock and budget_used; a campaign's shared budget two more
# (tests/ledger/test_budget_locks.py). The point of the test is the equality between 1 and
# 50 lines; the ceiling guards against creep.
CALCULATE_MAX = 3
COMMIT_MAX = 15 if connection.vendor == "postgresql" else 18


@pytest.fixture
def member(program, outlet):
    customer = CustomerFactory(phone="+79991234567")
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    grant(account, 5000, timezone.now(), key="seed")
    # Already on the top tier, so no check of the test triggers an upgrade (and its message).
    account.tier = program.tiers.get(code="silver")
    account.save(update_fields=["tier"])
    return customer


def basket(n):
    return [latte(qty="1", sku=f"SKU{i}") for i in range(n)]


def count(client, url, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, body, format="json", **headers)
    assert response.status_code in (200, 201), response.content
    return len(ctx.captured_queries)


def test_calculate_queries_do_not_grow_with_lines(client, member):
    body = {"customer": {"phone": "+79991234567"}, "redeem_points": "max"}
    count(client, "/api/v1/checks/calculate", {**body, "lines": basket(1)})  # warm caches
    one = count(client, "/api/v1/checks/calculate", {**body, "lines": basket(1)})
    fifty = count(client, "/api/v1/checks/calculate", {**body, "lines": basket(50)})
    print(f"calculate: {one} queries for 1 line, {fifty} for 50 lines")
    assert one == fifty <= CALCULATE_MAX


def test_commit_queries_do_not_grow_with_lines(client, member):
    body = {"customer": {"phone": "+79991234567"}, "redeem_points": "10"}
    count(client, "/api/v1/checks", {**body, "lines": basket(1), "receipt_number": "0"}, "k0")
    one = count(client, "/api/v1/checks", {**body, "lines": basket(1), "receipt_number": "1"}, "k1")
    fifty = count(
        client, "/api/v1/checks", {**body, "lines": basket(50), "receipt_number": "2"}, "k2"
    )
    print(f"commit: {one} queries for 1 line, {fifty} for 50 lines")
    assert one == fifty <= COMMIT_MAX
