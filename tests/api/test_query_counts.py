"""calculate and commit run the same number of queries for 1 line and for 50 lines; reserve and
confirm for 1 line and for 20."""

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
# reserve 14 = a commit's statements with the hold in place of the burn and the earning: key
# + customer + the account lock (with the version and the replay probe) + the open lots +
# check + lines + operation + awards + the hold lots + their entries + the sources' remaining
# and the account's balances (one statement) + the idempotency row, and BEGIN/COMMIT; no
# points-earned message yet. confirm 17 = key + the check + the account lock (with the
# customer, the version and the replay probe) + the check lock + the hold lots + the debts +
# operation + the earned lots + entries + the hold lots burnt and the balances and counters
# (one statement) + the check's status + the points-earned template and message + the lines
# for the body + the idempotency row, and BEGIN/COMMIT. SQLite runs the debt probe and the
# updates separately: 16 and 18.
RESERVE_MAX = 14 if connection.vendor == "postgresql" else 16
CONFIRM_MAX = 17 if connection.vendor == "postgresql" else 18


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
    # The commit's body as it is: the same statements (and still no write).
    as_commit = {"receipt_number": "R1", "occurred_at": timezone.now().isoformat()}
    same = count(client, "/api/v1/checks/calculate", {**body, **as_commit, "lines": basket(50)})
    print(f"calculate: {one} queries for 1 line, {fifty} for 50 lines, {same} with commit's body")
    assert one == fifty == same <= CALCULATE_MAX


def test_commit_queries_do_not_grow_with_lines(client, member):
    body = {"customer": {"phone": "+79991234567"}, "redeem_points": "10"}
    count(client, "/api/v1/checks", {**body, "lines": basket(1), "receipt_number": "0"}, "k0")
    one = count(client, "/api/v1/checks", {**body, "lines": basket(1), "receipt_number": "1"}, "k1")
    fifty = count(
        client, "/api/v1/checks", {**body, "lines": basket(50), "receipt_number": "2"}, "k2"
    )
    print(f"commit: {one} queries for 1 line, {fifty} for 50 lines")
    assert one == fifty <= COMMIT_MAX


def test_reserve_queries_do_not_grow_with_lines(client, member):
    body = {"customer": {"phone": "+79991234567"}, "redeem_points": "10"}
    url = "/api/v1/checks/reserve"
    count(client, url, {**body, "lines": basket(1), "receipt_number": "0"}, "r0")
    one = count(client, url, {**body, "lines": basket(1), "receipt_number": "1"}, "r1")
    twenty = count(client, url, {**body, "lines": basket(20), "receipt_number": "2"}, "r2")
    print(f"reserve: {one} queries for 1 line, {twenty} for 20 lines")
    assert one == twenty <= RESERVE_MAX


def test_confirm_queries_do_not_grow_with_lines(client, member):
    body = {"customer": {"phone": "+79991234567"}, "redeem_points": "10"}
    ids = []
    for n, receipt in ((1, "0"), (1, "1"), (20, "2")):
        response = client.post(
            "/api/v1/checks/reserve",
            {**body, "lines": basket(n), "receipt_number": receipt},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"r{receipt}",
        )
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    count(client, f"/api/v1/checks/{ids[0]}/confirm", {}, "c0")  # warm caches
    one = count(client, f"/api/v1/checks/{ids[1]}/confirm", {}, "c1")
    twenty = count(client, f"/api/v1/checks/{ids[2]}/confirm", {}, "c2")
    print(f"confirm: {one} queries for 1 line, {twenty} for 20 lines")
    assert one == twenty <= CONFIRM_MAX
