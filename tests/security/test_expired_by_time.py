"""Expired points are gone by time alone (issue 13, item 1): a lot past its ``expires_at``
counts in no balance, cannot be redeemed and is not "expiring", before the hourly job has
written its entries; the job only writes them, and reconcile is clean before and after."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.ledger import services
from loyalty.ledger.models import Account, Entry, EntryKind, Lot
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import account_open, points_expire
from tests.api.conftest import latte
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


def D(value) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def member(program, outlet):
    program.lifetime_days = 10
    program.save(update_fields=["lifetime_days"])
    customer = CustomerFactory(phone=PHONE)
    account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    return customer


def body(**extra):
    return {"customer": {"phone": PHONE}, "lines": [latte()], **extra}


def commit(client, key, receipt, **extra):
    return client.post(
        "/api/v1/checks",
        body(receipt_number=receipt, **extra),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def lookup(client):
    response = client.post(
        "/api/v1/customers/lookup", {"customer": {"phone": PHONE}}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def assert_reconciled(*accounts):
    found = services.ledger_reconcile(now=timezone.now(), account_ids=[a.pk for a in accounts])
    assert found == [], [str(d) for d in found]


def test_a_check_committed_after_its_points_lifetime_earns_points_that_are_already_gone(
    client, member
):
    eleven_days_ago = (timezone.now() - timedelta(days=11)).isoformat()
    response = commit(client, "k-1", "R1", occurred_at=eleven_days_ago)
    assert response.status_code == 201, response.content
    assert D(response.json()["earned_points"]) > 0  # earned (history keeps them) ...
    assert response.json()["balance"]["available_after"] == "0"  # ... and expired at once
    lots = list(Lot.objects.filter(kind="earn"))
    earned = sum((lot.amount for lot in lots), D(0))
    assert earned == D(response.json()["earned_points"])
    assert all(lot.remaining == lot.amount and lot.expires_at < timezone.now() for lot in lots)

    found = lookup(client)
    assert found["balance"] == {"available": "0", "pending": "0"}
    assert found["expiring"] == []
    quote = client.post("/api/v1/checks/calculate", body(redeem_points="max"), format="json")
    assert quote.status_code == 200 and quote.json()["max_redeemable_points"] == "0"
    spend = commit(client, "k-2", "R2", redeem_points="10")
    assert spend.status_code == 422, spend.content
    account = Account.objects.get()
    assert_reconciled(account)  # the lot awaiting the job is no discrepancy

    # The job only writes the entry; nothing a reader sees changes.
    result = points_expire(now=timezone.now())
    assert (result.lots, result.points) == (len(lots), earned)
    assert sum(e.amount for e in Entry.objects.filter(kind=EntryKind.EXPIRE)) == -earned
    assert lookup(client)["balance"] == found["balance"]
    assert_reconciled(account)


def test_a_lot_past_its_expiry_is_skipped_by_the_fifo_burn_before_the_job_ran(
    client, member, program
):
    account = Account.objects.get()
    long_ago = timezone.now() - timedelta(days=11)
    services.points_grant(
        account=account, points=D(100), source="t", idempotency_key="old", now=long_ago
    )
    services.points_grant(
        account=account,
        points=D(30),
        source="t",
        idempotency_key="new",
        now=timezone.now() - timedelta(minutes=1),
    )
    found = lookup(client)
    assert found["balance"]["available"] == "30"
    assert [item["points"] for item in found["expiring"]] == ["30"]
    quote = client.post("/api/v1/checks/calculate", body(redeem_points="max"), format="json")
    assert quote.json()["max_redeemable_points"] == "30"
    assert commit(client, "k-1", "R1", redeem_points="31").status_code == 422
    paid = commit(client, "k-2", "R2", redeem_points="30")
    assert paid.status_code == 201, paid.content
    redeemed = Entry.objects.get(kind=EntryKind.REDEEM)
    assert redeemed.lot.operation.idempotency_key == "new"
    assert Lot.objects.get(operation__idempotency_key="old").remaining == D(100)
    assert_reconciled(account)
    points_expire(now=timezone.now())
    assert Lot.objects.get(operation__idempotency_key="old").remaining == 0
    assert_reconciled(account)


def test_services_treat_an_expired_lot_as_gone(now, program):
    program.lifetime_days = 10
    program.save(update_fields=["lifetime_days"])
    customer = CustomerFactory(phone=PHONE)
    account = account_open(program=program, customer=customer, now=now)
    services.points_grant(account=account, points=D(50), source="t", idempotency_key="a", now=now)
    later = now + timedelta(days=10)  # the expiry instant itself counts as expired
    fresh = Account.objects.get(pk=account.pk)
    assert account_balance(fresh, now=later - timedelta(seconds=1)).available == D(50)
    assert account_balance(fresh, now=later).available == 0
    with pytest.raises(Exception) as exc:
        services.points_redeem(
            account=fresh, points=D(1), source="t", idempotency_key="r", now=later
        )
    assert exc.value.__class__.__name__ == "InsufficientPoints"
    with pytest.raises(Exception) as exc:
        services.points_adjust(
            account=fresh, points=D(-1), reason="fix", created_by=None, now=later
        )
    assert exc.value.__class__.__name__ == "InsufficientPoints"
    found = services.ledger_reconcile(now=later, account_ids=[account.pk])
    assert found == [], [str(d) for d in found]


def test_reconcile_still_checks_a_cache_that_time_has_made_stale(now, program):
    program.lifetime_days = 10
    program.save(update_fields=["lifetime_days"])
    account = account_open(program=program, customer=CustomerFactory(phone=PHONE), now=now)
    services.points_grant(account=account, points=D(50), source="t", idempotency_key="a", now=now)
    later = now + timedelta(days=11)
    assert services.ledger_reconcile(now=later, account_ids=[account.pk]) == []
    Account.objects.filter(pk=account.pk).update(available=D(99))
    found = services.ledger_reconcile(now=later, account_ids=[account.pk])
    assert [d.invariant for d in found] == [1, 1], [str(d) for d in found]
    # Checked as of the instant before the expiry: the cache must split as the lots did then.
    assert "cached split 99.00/0.00 vs lots 50.00/0.00" in str(found[1])
