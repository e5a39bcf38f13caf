"""Two-phase payment through the HTTP stack: reserve, confirm, cancel, release by time."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from loyalty.ledger.jobs import reservations_job
from loyalty.ledger.models import Account, Check, CheckStatus, Lot, LotKind, Operation
from loyalty.ledger.services import account_open, reservations_release
from tests.api.conftest import D, latte
from tests.factories import CustomerFactory, EarnRuleFactory
from tests.ledger.helpers import assert_consistent, grant

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


class Clock:
    """``django.utils.timezone.now`` under the test's hand (views and services read it)."""

    def __init__(self, monkeypatch):
        self.at = timezone.now().replace(microsecond=0)
        monkeypatch.setattr(timezone, "now", lambda: self.at)

    def advance(self, **kw):
        self.at += timedelta(**kw)
        return self.at


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def account(program, outlet, clock):
    customer = CustomerFactory(phone=PHONE)
    account = account_open(program=program, customer=customer, now=clock.at, outlet=outlet)
    grant(account, 1000, clock.at, key="seed")
    return account


def post(client, url, body=None, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body if body is not None else {}, format="json", **headers)


def body(receipt="R1", redeem="100", **extra):
    return {
        "customer": {"phone": PHONE},
        "lines": [latte()],
        "redeem_points": redeem,
        "receipt_number": receipt,
        **extra,
    }


def fresh(account) -> Account:
    return Account.objects.get(pk=account.pk)


def available(client) -> str:
    response = post(client, "/api/v1/customers/lookup", {"customer": {"phone": PHONE}})
    assert response.status_code == 200, response.content
    return response.json()["balance"]["available"]


def reserve(client, receipt="R1", key=None, **kw):
    response = post(client, "/api/v1/checks/reserve", body(receipt, **kw), key=key or receipt)
    assert response.status_code == 201, response.content
    return response.json()


# --- reserve ------------------------------------------------------------------------------------


def test_reserve_holds_the_points_and_earns_nothing_yet(client, account, clock):
    data = reserve(client)
    assert data["status"] == "reserved"
    assert datetime.fromisoformat(data["reserved_until"]) == clock.at + timedelta(minutes=15)
    assert data["redeemed_points"] == "100"
    assert data["earned_points"] == "40"  # what the confirmation will earn
    assert data["balance"] == {"available": "1000", "available_after": "900", "pending_after": "0"}
    assert data["receipt_number"] == "R1"
    acc = fresh(account)
    assert (acc.available, acc.pending, acc.held) == (D(900), D(0), D(100))
    assert acc.lifetime_visits == 0 and acc.lifetime_spend == 0  # counters do not move
    assert available(client) == "900"
    check = Check.objects.get(public_id=data["id"])
    assert check.status == CheckStatus.RESERVED
    assert_consistent(clock.at, account)


def test_reserve_replays_and_refuses_a_reused_key(client, account, clock):
    first = post(client, "/api/v1/checks/reserve", body(), key="k")
    again = post(client, "/api/v1/checks/reserve", body(), key="k")
    assert again.status_code == 201 and again.content == first.content
    assert fresh(account).held == D(100)
    other = post(client, "/api/v1/checks/reserve", body(redeem="50"), key="k")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert Check.objects.count() == 1


def test_reserve_validates_like_a_commit(client, account):
    too_many = post(client, "/api/v1/checks/reserve", body(redeem="151"), key="a")
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "redeem_limit_exceeded"
    assert "150" in too_many.json()["detail"]
    no_key = post(client, "/api/v1/checks/reserve", body())
    assert no_key.status_code == 400 and "Idempotency-Key" in no_key.json()["fields"]
    unknown = post(client, "/api/v1/checks/reserve", body(colour="red"), key="b")
    assert unknown.status_code == 400 and "colour" in unknown.json()["fields"]
    no_receipt = post(client, "/api/v1/checks/reserve", {"lines": [latte()]}, key="c")
    assert no_receipt.status_code == 400 and "receipt_number" in no_receipt.json()["fields"]
    reserve(client, "R1")
    taken = post(client, "/api/v1/checks/reserve", body("R1"), key="d")
    assert taken.status_code == 400 and "receipt_number" in taken.json()["fields"]
    assert Check.objects.count() == 1 and fresh(account).held == D(100)


def test_held_points_never_pay_for_a_second_check(client, account, clock):
    # 1000 points; a check of 5000.00 may redeem up to 1500, but only 1000 are there.
    reserve(client, "R1", redeem="700", lines=[latte(qty="10", price="500.00")])
    second = post(
        client,
        "/api/v1/checks",
        body("R2", redeem="400", lines=[latte(qty="10", price="500.00")]),
        key="c2",
    )
    assert second.status_code == 422 and second.json()["code"] == "redeem_limit_exceeded"
    assert "300" in second.json()["detail"]
    assert post(client, "/api/v1/checks/reserve", body("R3", redeem="301"), key="r3").status_code
    assert fresh(account).held == D(700)
    assert_consistent(clock.at, account)


# --- confirm ------------------------------------------------------------------------------------


def test_confirm_burns_the_hold_and_earns_as_a_commit(client, account, clock):
    data = reserve(client)
    clock.advance(minutes=5)
    response = post(client, f"/api/v1/checks/{data['id']}/confirm", key="confirm-1")
    assert response.status_code == 200, response.content
    done = response.json()
    assert done["status"] == "completed" and done["id"] == data["id"]
    assert done["earned_points"] == "40" and done["redeemed_points"] == "100"
    assert done["balance"] == {"available": "900", "available_after": "940", "pending_after": "0"}
    assert done["lines"] == data["lines"]
    assert done["breakdown"] == data["breakdown"]
    acc = fresh(account)
    assert (acc.available, acc.pending, acc.held) == (D(940), D(0), D(0))
    assert acc.lifetime_visits == 1 and acc.lifetime_spend == D("400.00")
    assert acc.lifetime_earned == D(1040)  # the seed grant and this check
    assert Check.objects.get(public_id=data["id"]).status == CheckStatus.COMPLETED
    # The same as a plain commit of the same check would have left.
    post(client, "/api/v1/checks", body("R2"), key="plain")
    assert fresh(account).available == D(880)
    assert_consistent(clock.at, account)


def test_confirm_replays_and_refuses_a_reused_key(client, account, clock):
    data = reserve(client)
    url = f"/api/v1/checks/{data['id']}/confirm"
    first = post(client, url, key="c")
    again = post(client, url, key="c")
    assert again.status_code == 200 and again.content == first.content
    other_key = post(client, url, key="c-other")  # already completed: nothing moves
    assert other_key.status_code == 200 and other_key.json()["status"] == "completed"
    assert fresh(account).available == D(940)
    reused = post(client, f"/api/v1/checks/{data['id']}/cancel", key="c")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert Operation.objects.filter(check_obj__public_id=data["id"], kind="check").count() == 1


def test_confirm_errors(client, account, clock):
    data = reserve(client)
    url = f"/api/v1/checks/{data['id']}/confirm"
    no_key = post(client, url)
    assert no_key.status_code == 400 and "Idempotency-Key" in no_key.json()["fields"]
    with_body = post(client, url, {"force": True}, key="x")
    assert with_body.status_code == 400 and "force" in with_body.json()["fields"]
    missing = post(client, "/api/v1/checks/00000000-0000-0000-0000-000000000000/confirm", key="y")
    assert missing.status_code == 404 and missing.json()["code"] == "check_not_found"
    bad_id = post(client, "/api/v1/checks/not-a-uuid/confirm", key="z")
    assert bad_id.status_code == 404
    assert fresh(account).held == D(100)


def test_confirm_after_the_reservation_expired(client, account, clock):
    data = reserve(client)
    clock.advance(minutes=15)
    # Released by time alone: the balance counts the points again, before any job ran.
    assert available(client) == "1000"
    response = post(client, f"/api/v1/checks/{data['id']}/confirm", key="late")
    assert response.status_code == 409 and response.json()["code"] == "reservation_expired"
    assert_consistent(clock.at, account)
    reservations_release(now=clock.at)
    assert Check.objects.get(public_id=data["id"]).status == CheckStatus.RESERVATION_EXPIRED
    again = post(client, f"/api/v1/checks/{data['id']}/confirm", key="later")
    assert again.status_code == 409 and again.json()["code"] == "reservation_expired"
    acc = fresh(account)
    assert (acc.available, acc.held, acc.lifetime_visits) == (D(1000), D(0), 0)
    assert_consistent(clock.at, account)


def test_confirm_a_cancelled_reservation(client, account, clock):
    data = reserve(client)
    cancel = post(client, f"/api/v1/checks/{data['id']}/cancel", key="cancel")
    assert cancel.status_code == 200, cancel.content
    assert cancel.json()["status"] == "cancelled"
    assert cancel.json()["restored_points"] == "100"
    assert cancel.json()["balance"] == {"available": "1000", "pending": "0"}
    response = post(client, f"/api/v1/checks/{data['id']}/confirm", key="confirm")
    assert response.status_code == 409 and response.json()["code"] == "check_already_cancelled"
    second = post(client, f"/api/v1/checks/{data['id']}/cancel", key="cancel-2")
    assert second.status_code == 409 and second.json()["code"] == "check_already_cancelled"
    acc = fresh(account)
    assert (acc.available, acc.held) == (D(1000), D(0))
    assert_consistent(clock.at, account)


def test_a_reserved_check_cannot_be_refunded(client, account, clock):
    data = reserve(client)
    response = post(client, f"/api/v1/checks/{data['id']}/refunds", {"full": True}, key="r")
    assert response.status_code == 409 and response.json()["code"] == "check_not_completed"
    assert fresh(account).held == D(100)


def test_an_expired_hold_is_spent_before_the_job_writes_its_release(client, account, clock):
    reserve(client, "R1", redeem="700", lines=[latte(qty="10", price="500.00")])
    clock.advance(minutes=16)
    # The hold is over: all 1000 points can pay for the next check at once.
    spent = post(
        client,
        "/api/v1/checks",
        body("R2", redeem="1000", lines=[latte(qty="10", price="500.00")]),
        key="c2",
    )
    assert spent.status_code == 201, spent.content
    result = reservations_release(now=clock.at)
    assert result.checks == 1
    assert_consistent(clock.at, account)
    assert not Lot.objects.filter(kind=LotKind.HOLD, remaining__gt=0).exists()


# --- the release job ----------------------------------------------------------------------------


def test_release_job_writes_the_release_once(client, account, clock):
    data = reserve(client)
    assert reservations_release(now=clock.advance(minutes=14)).checks == 0  # not yet
    clock.advance(minutes=1)
    run = reservations_job(now=clock.at)
    assert run.details == {"checks": 1, "points": D(100)}
    assert reservations_job(now=clock.at).skipped  # one run per minute
    assert reservations_release(now=clock.advance(minutes=1)).checks == 0  # idempotent
    release = Operation.objects.get(check_obj__public_id=data["id"], kind="release")
    assert release.entries.count() == 2  # back from the hold lot to its source
    acc = fresh(account)
    assert (acc.available, acc.held) == (D(1000), D(0))
    assert_consistent(clock.at, account)


def test_release_gives_back_budget_and_limits(client, program, account, clock):
    rule = EarnRuleFactory(
        program=program, code="bonus", kind="threshold", min_amount=D(100), points=D(30)
    )
    rule.budget_points = D(1000)
    rule.limit_per_customer = 1
    rule.save()
    program.save()  # a new configuration version
    reserve(client, "R1")
    rule.refresh_from_db()
    assert rule.budget_used == D(30)
    # The limit is taken by the reservation: a second check does not get the bonus.
    second = post(client, "/api/v1/checks/calculate", body("R2"))
    assert [r["rule"] for r in second.json()["breakdown"]] == ["tier:base", "latte"]
    reservations_release(now=clock.advance(minutes=15))
    rule.refresh_from_db()
    assert rule.budget_used == D(0)
    again = post(client, "/api/v1/checks/calculate", body("R2"))
    assert "bonus" in [r["rule"] for r in again.json()["breakdown"]]


def test_calculate_accepts_the_commit_body(client, program, account, clock):
    one = body("R1", occurred_at=clock.at.isoformat())
    response = post(client, "/api/v1/checks/calculate", one)
    assert response.status_code == 200, response.content
    assert response.json()["earned_points"] == "40"
    assert not Check.objects.exists()
    too_old = body("R1", occurred_at=(clock.at - timedelta(days=31)).isoformat())
    refused = post(client, "/api/v1/checks/calculate", too_old)
    assert refused.status_code == 400 and "occurred_at" in refused.json()["fields"]
    unknown = post(client, "/api/v1/checks/calculate", body(colour="red"))
    assert unknown.status_code == 400 and "colour" in unknown.json()["fields"]


def test_calculate_previews_a_weekend_multiplier_for_the_check_time(
    client, program, account, clock
):
    EarnRuleFactory(
        program=program, code="weekend", kind="multiplier", factor=D(2), days_of_week=[6, 7]
    )
    program.save()
    # Noon UTC of the last Saturday and of the Monday before it (the same day in Moscow).
    noon = clock.at.replace(hour=12, minute=0, second=0) - timedelta(days=1)
    saturday = noon - timedelta(days=(noon.weekday() - 5) % 7)
    monday = saturday - timedelta(days=5)
    sat = post(client, "/api/v1/checks/calculate", body(occurred_at=saturday.isoformat()))
    mon = post(client, "/api/v1/checks/calculate", body(occurred_at=monday.isoformat()))
    assert sat.status_code == mon.status_code == 200, (sat.content, mon.content)
    sat_rules = {r["rule"]: r["points"] for r in sat.json()["breakdown"]}
    mon_rules = {r["rule"]: r["points"] for r in mon.json()["breakdown"]}
    assert "weekend" in sat_rules and "weekend" not in mon_rules
    assert D(sat.json()["earned_points"]) > D(mon.json()["earned_points"])


# --- the ledger around holds: expiry, reconcile, anonymous checks -------------------------------


@pytest.fixture(params=["orm", "sql"])
def expiry_method(request):
    from django.db import connection

    if request.param == "sql" and connection.vendor != "postgresql":
        pytest.skip("the set-based SQL path runs on PostgreSQL (CI)")
    return request.param


def test_expiry_spares_a_hold_while_its_reservation_stands(
    client, program, outlet, clock, expiry_method
):
    from loyalty.ledger.services import points_expire

    customer = CustomerFactory(phone=PHONE)
    account = account_open(program=program, customer=customer, now=clock.at, outlet=outlet)
    # 100 points that expire 10 minutes from now, all of them held for 15.
    grant(account, 100, clock.at - timedelta(days=1), key="short", lifetime_days=1)
    Lot.objects.filter(account=account).update(expires_at=clock.at + timedelta(minutes=10))
    data = reserve(client, redeem="100")
    clock.advance(minutes=12)
    result = points_expire(now=clock.at, method=expiry_method)
    assert result.lots == 0  # the source is empty, the hold still stands
    assert_consistent(clock.at, account)
    done = post(client, f"/api/v1/checks/{data['id']}/confirm", key="c")
    assert done.status_code == 200, done.content
    acc = fresh(account)
    assert (acc.available, acc.held) == (D(40), D(0))
    assert_consistent(clock.at, account)


def test_a_lapsed_hold_expires_like_any_lot(client, program, outlet, clock, expiry_method):
    from loyalty.ledger.services import points_expire

    customer = CustomerFactory(phone=PHONE)
    account = account_open(program=program, customer=customer, now=clock.at, outlet=outlet)
    grant(account, 100, clock.at - timedelta(days=1), key="short", lifetime_days=1)
    Lot.objects.filter(account=account).update(expires_at=clock.at + timedelta(minutes=10))
    reserve(client, redeem="100")
    clock.advance(minutes=20)
    result = points_expire(now=clock.at, method=expiry_method)
    assert (result.lots, result.points) == (1, D(100))  # the hold lot, after its reservation
    assert reservations_release(now=clock.at).points == D(0)  # nothing left to give back
    acc = fresh(account)
    assert (acc.available, acc.pending, acc.held) == (D(0), D(0), D(0))
    assert_consistent(clock.at, account)


def test_reconcile_knows_about_holds(client, account, clock):
    from loyalty.ledger.services import ledger_reconcile

    data = reserve(client)
    assert_consistent(clock.at, account)
    Account.objects.filter(pk=account.pk).update(held=D(0), available=D(1000))
    found = {(d.invariant, d.detail) for d in ledger_reconcile(now=clock.at)}
    assert (1, "cached held 0.00 vs hold lots 100.00") in found
    Account.objects.filter(pk=account.pk).update(held=D(100), available=D(900))
    # A hold that outlives its reservation's check is a leak.
    Check.objects.filter(public_id=data["id"]).update(status=CheckStatus.COMPLETED)
    found = [d for d in ledger_reconcile(now=clock.at) if d.invariant == 4]
    assert any("still holds 100.00 for a completed check" in d.detail for d in found), found


def test_an_anonymous_check_can_be_reserved_and_confirmed(client, clock):
    response = post(
        client, "/api/v1/checks/reserve", {"lines": [latte()], "receipt_number": "A1"}, key="a"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["earned_points"], data["tier"]) == ("reserved", "0", None)
    done = post(client, f"/api/v1/checks/{data['id']}/confirm", key="c")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    other = post(
        client, "/api/v1/checks/reserve", {"lines": [latte()], "receipt_number": "A2"}, key="b"
    )
    clock.advance(minutes=15)
    late = post(client, f"/api/v1/checks/{other.json()['id']}/confirm", key="d")
    assert late.status_code == 409 and late.json()["code"] == "reservation_expired"
    assert reservations_release(now=clock.at).checks == 1
    assert Check.objects.get(public_id=other.json()["id"]).status == "expired"


def test_reports_count_a_reserved_check_only_once_confirmed(client, program, account, clock):
    from reports.selectors.days import counted_checks

    day = clock.at.date()
    data = reserve(client)
    window = (day - timedelta(days=1), day + timedelta(days=1))
    assert not counted_checks(program, *window).exists()
    post(client, f"/api/v1/checks/{data['id']}/confirm", key="c")
    assert list(counted_checks(program, *window).values_list("public_id", flat=True)) == [
        Check.objects.get(public_id=data["id"]).public_id
    ]
