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

# Measured (SQLite and PostgreSQL alike): calculate 17 = key + customer + programme spec (11,
# of which 2 are campaign overrides) + account + rule usage + segments/offers (2); commit 48 =
# the same reads under the account lock + idempotency row, check, lines, operation, one read of
# the lots, one insert of the earned lots, awards, entries, balances, the points-earned message
# and savepoints. This check spends no budget, so it takes no budget lock (49 → 48); one that
# does costs +1 (the lock) +1 per budgeted rule (budget_used), and +2 more for a campaign's
# shared budget (tests/ledger/test_budget_locks.py). The point of the test is the equality
# between 1 and 50 lines; the ceiling guards against creep.
CALCULATE_MAX = 17
COMMIT_MAX = 48


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
