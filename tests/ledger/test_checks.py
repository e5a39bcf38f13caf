"""Committing, refunding and cancelling checks through the ledger (service level)."""

import pytest

from core import errors
from loyalty.ledger import services
from loyalty.ledger.models import Check, CheckStatus, Lot, LotKind, Operation, RuleAward
from loyalty.ledger.services import check_calculate, check_commit
from loyalty.rules.engine import LineInput
from tests.factories import (
    AccountFactory,
    CustomerFactory,
    EarnRuleFactory,
    OutletFactory,
    ProductSetFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    TierFactory,
)
from tests.ledger.helpers import D, assert_consistent, balance, days, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(code="coffee", lifetime_days=365, hold_days=0)
    TierFactory(program=program, code="base", rank=0, threshold=D(0), earn_percent=D(5))
    TierFactory(program=program, code="silver", rank=1, threshold=D(1000), earn_percent=D(10))
    RedemptionPolicyFactory(program=program, max_share=D("0.30"))
    return program


@pytest.fixture
def outlet(program):
    return OutletFactory(program=program, code="msk-1")


@pytest.fixture
def customer():
    return CustomerFactory()


def latte(qty=2, price="250.00"):
    return LineInput(
        sku="LATTE",
        category="coffee",
        name="Latte",
        quantity=D(qty),
        price=D(price),
        amount=D(qty) * D(price),
    )


def commit(program, outlet, customer, lines, now, redeem=None, key="k1", receipt="R1"):
    return check_commit(
        program=program,
        outlet=outlet,
        customer=customer,
        lines=lines,
        redeem=redeem,
        receipt_number=receipt,
        source=f"outlet:{outlet.pk}",
        idempotency_key=key,
        now=now,
    )


def account_of(program, customer):
    return program.accounts.get(customer=customer)


def test_commit_redeems_and_earns_on_the_paid_part(program, outlet, customer, now):
    account = AccountFactory(
        program=program, customer=customer, tier=program.tiers.get(code="base")
    )
    grant(account, 1000, now - days(1))
    done = commit(program, outlet, customer, [latte()], now, redeem=D(100))
    check = done.check
    assert (check.subtotal, check.discount, check.payable) == (D(500), D(100), D(400))
    # 5 % of the 400.00 paid in money.
    assert (check.redeemed_points, check.earned_points) == (D(100), D(20))
    assert balance(account, now).available == D(920)
    assert check.lines.get().rule_points == {"tier:base": "20"}
    assert_consistent(now, account)


def test_calculate_writes_nothing_and_matches_commit(program, outlet, customer, now):
    account = AccountFactory(
        program=program, customer=customer, tier=program.tiers.get(code="base")
    )
    grant(account, 1000, now - days(1))
    ops_before = Operation.objects.count()
    quote = check_calculate(
        program=program, outlet=outlet, customer=customer, lines=[latte()], redeem=D(100), now=now
    )
    assert Operation.objects.count() == ops_before and not Check.objects.exists()
    done = commit(program, outlet, customer, [latte()], now, redeem=D(100))
    assert quote.result.earned_points == done.check.earned_points
    assert quote.balance_after == balance(account, now)


def test_replayed_commit_returns_the_first_check_and_moves_nothing(program, outlet, customer, now):
    first = commit(program, outlet, customer, [latte()], now)
    again = commit(program, outlet, customer, [latte()], now)
    assert again.replayed and again.check.pk == first.check.pk
    assert Check.objects.count() == 1
    assert balance(account_of(program, customer), now).available == D(25)


def test_receipt_number_is_unique_per_outlet(program, outlet, customer, now):
    commit(program, outlet, customer, [latte()], now)
    with pytest.raises(errors.ValidationFailed) as exc:
        commit(program, outlet, customer, [latte()], now, key="other")
    assert "receipt_number" in exc.value.fields
    assert Check.objects.count() == 1


def test_blocked_customer_cannot_commit(program, outlet, now):
    customer = CustomerFactory(is_blocked=True)
    with pytest.raises(errors.CustomerBlocked):
        commit(program, outlet, customer, [latte()], now)
    assert not Check.objects.exists()


def test_anonymous_check_is_recorded_without_points(program, outlet, now):
    done = commit(program, outlet, None, [latte()], now)
    assert done.check.account is None and done.check.earned_points == D(0)
    assert not Operation.objects.exists()


def test_anonymous_check_cannot_redeem_but_max_is_zero(program, outlet, now):
    with pytest.raises(errors.RedeemNotAllowed):
        commit(program, outlet, None, [latte()], now, redeem=D(10))
    assert not Check.objects.exists()
    done = commit(program, outlet, None, [latte()], now, redeem="max")
    assert done.check.redeemed_points == D(0) and done.check.payable == D(500)


def test_partial_refunds_restore_and_claw_back_proportionally(program, outlet, customer, now):
    account = AccountFactory(
        program=program, customer=customer, tier=program.tiers.get(code="base")
    )
    grant(account, 1000, now - days(1))
    check = commit(program, outlet, customer, [latte()], now, redeem=D(100)).check
    first = services.check_refund(
        check=check, lines=[(0, D(1))], source="t", idempotency_key="rf1", now=now + days(1)
    )
    # Half the goods: 50 of the 100 redeemed points come back, 10 of the 20 earned go.
    assert (first.restored_points, first.clawed_back_points, first.amount) == (D(50), D(10), D(200))
    assert balance(account, now + days(1)).available == D(960)
    second = services.check_refund(
        check=check, lines=[(0, D(1))], source="t", idempotency_key="rf2", now=now + days(2)
    )
    assert (second.restored_points, second.clawed_back_points) == (D(50), D(10))
    assert balance(account, now + days(2)).available == D(1000)
    check.refresh_from_db()
    assert check.status == CheckStatus.REFUNDED and check.refunded_amount == D(400)
    with pytest.raises(errors.RefundExceedsCheck):
        services.check_refund(
            check=check, lines=[(0, D(1))], source="t", idempotency_key="rf3", now=now
        )
    assert_consistent(now + days(2), account)


def test_partial_refunds_of_uneven_points_sum_exactly(program, outlet, customer, now):
    # 3 × 66.67 = 200.01 → 5 % = 10.0005 → 10 points; thirds of 10 are 3, 3 and the last 4.
    done = commit(program, outlet, customer, [latte(qty=3, price="66.67")], now)
    assert done.check.earned_points == D(10)
    taken = [
        services.check_refund(
            check=done.check, lines=[(0, D(1))], source="t", idempotency_key=f"r{i}", now=now
        ).clawed_back_points
        for i in range(3)
    ]
    assert taken == [D(3), D(3), D(4)]
    assert balance(account_of(program, customer), now).total == D(0)


def test_refund_after_points_were_spent_leaves_a_debt_repaid_by_next_earning(
    program, outlet, customer, now
):
    check = commit(program, outlet, customer, [latte()], now).check  # earns 25
    account = account_of(program, customer)
    services.points_redeem(account=account, points=D(25), source="t", idempotency_key="x", now=now)
    services.check_refund(check=check, full=True, source="t", idempotency_key="rf", now=now)
    assert balance(account, now).available == D(-25)
    assert Lot.objects.get(account=account, kind=LotKind.DEBT).remaining == D(-25)
    grant(account, 40, now, key="later")
    assert balance(account, now).available == D(15)
    assert_consistent(now, account)


def test_refund_without_negative_balances_forgives_the_shortfall(outlet, customer, now):
    program = outlet.program
    program.allow_negative_after_refund = False
    program.save()
    check = commit(program, outlet, customer, [latte()], now).check
    account = account_of(program, customer)
    services.points_redeem(account=account, points=D(20), source="t", idempotency_key="x", now=now)
    refund = services.check_refund(
        check=check, full=True, source="t", idempotency_key="rf", now=now
    )
    assert refund.clawed_back_points == D(5)
    assert D(refund.operation.meta["forgiven"]) == D(20)
    assert balance(account, now).available == D(0)
    assert_consistent(now, account)


def test_refund_after_the_paying_lot_expired_restores_with_a_fresh_lifetime(
    program, outlet, customer, now
):
    account = AccountFactory(
        program=program, customer=customer, tier=program.tiers.get(code="base")
    )
    grant(account, 100, now, key="short", lifetime_days=10)
    check = commit(program, outlet, customer, [latte()], now, redeem=D(100)).check
    later = now + days(20)
    services.points_expire(now=later)
    services.check_refund(check=check, full=True, source="t", idempotency_key="rf", now=later)
    restored = Lot.objects.get(account=account, kind=LotKind.RESTORE)
    assert restored.amount == D(100)
    assert restored.expires_at == later + days(365)
    assert_consistent(later, account)


def test_refund_restores_with_the_original_expiry_when_still_valid(program, outlet, customer, now):
    account = AccountFactory(
        program=program, customer=customer, tier=program.tiers.get(code="base")
    )
    source = grant(account, 100, now, key="src", lifetime_days=50)
    check = commit(program, outlet, customer, [latte()], now, redeem=D(100)).check
    services.check_refund(check=check, full=True, source="t", idempotency_key="rf", now=now)
    restored = Lot.objects.get(account=account, kind=LotKind.RESTORE)
    assert restored.expires_at == Lot.objects.get(operation=source).expires_at


def test_cancel_reverses_everything_once(program, outlet, customer, now):
    account = AccountFactory(
        program=program, customer=customer, tier=program.tiers.get(code="base")
    )
    grant(account, 300, now - days(1))
    check = commit(program, outlet, customer, [latte()], now, redeem=D(100)).check
    services.check_refund(check=check, lines=[(0, D(1))], source="t", idempotency_key="r", now=now)
    services.check_cancel(check=check, source="t", idempotency_key="c", now=now)
    account.refresh_from_db()
    assert balance(account, now).available == D(300)
    assert (account.lifetime_visits, account.lifetime_spend) == (0, D(0))
    assert Check.objects.get(pk=check.pk).status == CheckStatus.CANCELLED
    with pytest.raises(errors.CheckAlreadyCancelled):
        services.check_cancel(check=check, source="t", idempotency_key="c2", now=now)
    with pytest.raises(errors.CheckAlreadyCancelled):
        services.check_refund(check=check, full=True, source="t", idempotency_key="r2", now=now)
    assert_consistent(now, account)


def test_tier_upgrade_applies_after_the_check_that_qualifies(program, outlet, customer, now):
    done = commit(program, outlet, customer, [latte(qty=4, price="250.00")], now)
    # The check itself earns at the base 5 %; the upgrade to silver comes after it.
    assert done.check.earned_points == D(50) and done.check.tier_code == "base"
    account = account_of(program, customer)
    assert account.tier.code == "silver"
    second = commit(program, outlet, customer, [latte(qty=1)], now, key="k2", receipt="R2")
    assert second.check.earned_points == D(25)


def test_rule_budget_stops_awards_and_cancel_releases_it(program, outlet, customer, now):
    coffee = ProductSetFactory(program=program, code="coffee", categories=["coffee"])
    rule = EarnRuleFactory(
        program=program, code="latte", kind="fixed_per_item", points=D(10), budget_points=D(30)
    )
    rule.include.add(coffee)
    first = commit(program, outlet, customer, [latte(qty=2)], now)
    assert first.check.earned_points == D(25 + 20)
    second = commit(program, outlet, customer, [latte(qty=2)], now, key="k2", receipt="R2")
    assert second.check.earned_points == D(25 + 10)  # only 10 left in the budget
    rule.refresh_from_db()
    assert rule.budget_used == D(30)
    services.check_cancel(check=first.check, source="t", idempotency_key="c", now=now)
    rule.refresh_from_db()
    assert rule.budget_used == D(10)
    assert RuleAward.objects.filter(cancelled=True).count() == 2


def test_hold_period_makes_earned_points_pending(outlet, customer, now):
    program = outlet.program
    program.hold_days = 14
    program.save()
    commit(program, outlet, customer, [latte()], now)
    account = account_of(program, customer)
    assert (balance(account, now).available, balance(account, now).pending) == (D(0), D(25))
    assert balance(account, now + days(14)).available == D(25)


@pytest.fixture
def heard():
    """What the ledger announces: each signal's kwargs, and the balance a receiver sees then."""
    from django.db import connection

    from loyalty.ledger import signals

    events = []

    def listen(name):
        def receiver(sender, *, signal, account, check, now, **kwargs):
            events.append(
                {
                    "heard": name,
                    "check": check.pk,
                    "status": check.status,
                    "available": balance(account, now).available,
                    "in_transaction": connection.in_atomic_block,
                    **kwargs,
                }
            )

        return receiver

    receivers = {
        signals.check_refunded: listen("refunded"),
        signals.check_cancelled: listen("cancelled"),
    }
    for signal, receiver in receivers.items():
        signal.connect(receiver, dispatch_uid=f"test.heard.{id(signal)}")
    yield events
    for signal in receivers:
        signal.disconnect(dispatch_uid=f"test.heard.{id(signal)}")


def test_refund_and_cancel_announce_themselves_after_the_movement_once(
    program, outlet, customer, now, heard
):
    check = commit(program, outlet, customer, [latte()], now).check  # earns 25
    refund = services.check_refund(
        check=check, lines=[(0, D(1))], source="t", idempotency_key="rf", now=now
    )
    services.check_refund(check=check, lines=[(0, D(1))], source="t", idempotency_key="rf", now=now)
    op = services.check_cancel(check=check, source="t", idempotency_key="c", now=now)
    services.check_cancel(check=check, source="t", idempotency_key="c", now=now)  # a replay
    assert [(e["heard"], e["status"], e["available"]) for e in heard] == [
        ("refunded", CheckStatus.PARTIALLY_REFUNDED, D(13)),
        ("cancelled", CheckStatus.CANCELLED, D(0)),
    ]
    assert heard[0]["refund"] == refund and heard[1]["operation"] == op
    assert all(e["check"] == check.pk and e["in_transaction"] for e in heard)


def test_an_anonymous_cancel_announces_nothing(program, outlet, now, heard):
    check = commit(program, outlet, None, [latte()], now).check
    assert services.check_cancel(check=check, source="t", idempotency_key="c", now=now) is None
    assert heard == []
