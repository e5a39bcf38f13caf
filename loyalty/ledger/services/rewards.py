"""Claiming a reward for points, and handing out a gift.

A claim is its own ledger operation (kind ``reward``): it burns the reward's points cost from
the available lots (FIFO, through ``movements``) and issues a ``Coupon``. Locking order: the
account row (``accounts``), then the reward row (``SELECT … FOR UPDATE``), so the stock and the
per-customer limit are checked and counted under locks and never oversold
(docs/adr/0009-rewards-and-coupons.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils.translation import gettext as _

from core import errors
from core.db import step
from core.money import quantize_points
from customers.models import Customer
from loyalty.ledger.models import Account, Coupon, EntryKind, OperationKind
from loyalty.ledger.selectors import Balance, account_balance
from loyalty.ledger.services import movements
from loyalty.ledger.services.accounts import account_lock, account_open, member_account_lock
from loyalty.rules.models import Program, Reward, RewardKind

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud at a till


@dataclass(frozen=True)
class RewardClaim:
    coupon: Coupon
    balance: Balance
    replayed: bool


def coupon_code_new() -> str:
    """``K7Q2-9XPA``: 40 random bits in an alphabet a cashier can read."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def reward_problem(reward: Reward | None, account: Account, *, now: datetime) -> str | None:
    """Why ``account`` may not claim ``reward`` now (translated), or None. Reads the coupons
    of the account for the per-customer limit; the caller holds the account lock for a claim."""
    if reward is None or not reward.is_active:
        return _("There is no such reward.")
    if reward.valid_from is not None and now < reward.valid_from:
        return _("This reward is not available yet.")
    if reward.valid_until is not None and now >= reward.valid_until:
        return _("This reward is no longer available.")
    if reward.stock is not None and reward.claimed >= reward.stock:
        return _("This reward is out of stock.")
    tiers = [t.pk for t in reward.tiers.all()]
    if tiers and account.tier_id not in tiers:
        return _("This reward is not available for your tier.")
    if reward.limit_per_customer is not None:
        had = Coupon.objects.filter(account=account, reward=reward).count()
        if had >= reward.limit_per_customer:
            return _("You have already claimed this reward as often as allowed.")
    return None


def reward_claim(
    *,
    program: Program,
    customer: Customer,
    reward_code: str,
    source: str,
    idempotency_key: str,
    now: datetime,
) -> RewardClaim:
    """Claim ``reward_code`` for the customer: debit its cost, issue a coupon. One transaction.

    A replay of (source, key) returns the first claim's coupon and moves nothing. Raises
    CustomerBlocked, RewardUnavailable (unknown, inactive, outside its dates, out of stock,
    not for the tier, over the per-customer limit) and InsufficientPoints.
    """
    if customer.is_blocked:
        raise errors.CustomerBlocked()
    with step():
        account = member_account_lock(program, customer)
        if account is None:
            account = account_lock(account_open(program=program, customer=customer, now=now).pk)
        account.customer = customer
        replay = movements.operation_replay(
            program=program, source=source, idempotency_key=idempotency_key
        )
        if replay is not None:
            coupon = Coupon.objects.select_related("reward").get(operation=replay)
            return RewardClaim(
                coupon=coupon, balance=account_balance(account, now=now), replayed=True
            )
        reward = (
            Reward.objects.select_for_update(of=("self",))
            .filter(program=program, code=reward_code)
            .first()
        )
        problem = reward_problem(reward, account, now=now)
        if problem is not None:
            raise errors.RewardUnavailable(problem)
        available = account_balance(account, now=now).available
        if reward.points_cost > available:
            raise errors.InsufficientPoints(
                _("The reward costs %(cost)s points, the balance is %(balance)s.")
                % {
                    "cost": quantize_points(reward.points_cost, precision=program.precision),
                    "balance": quantize_points(available, precision=program.precision),
                }
            )
        mv = movements.Movements(
            movements.operation_new(
                account,
                kind=OperationKind.REWARD,
                source=source,
                key=idempotency_key,
                now=now,
                description=f"Reward {reward.name}"[:255],
                meta={"reward": reward.code},
            )
        )
        movements.debit(
            mv,
            movements.open_lots(mv, account, now=now, include_pending=False),
            amount=reward.points_cost,
            kind=EntryKind.REDEEM,
        )
        op = movements.finish(mv, account, now=now)
        Reward.objects.filter(pk=reward.pk).update(claimed=F("claimed") + 1)
        code = coupon_code_new()
        while Coupon.objects.filter(program=program, code=code).exists():
            code = coupon_code_new()  # 2^40 codes: practically never taken
        coupon = Coupon.objects.create(
            program=program,
            code=code,
            reward=reward,
            account=account,
            operation=op,
            points_cost=reward.points_cost,
            expires_at=now + timedelta(days=reward.coupon_days),
            created_at=now,
        )
        return RewardClaim(coupon=coupon, balance=account_balance(account, now=now), replayed=False)


def gift_hand_out(*, coupon: Coupon, user, now: datetime) -> Coupon:
    """Staff hand a gift over: the gift coupon is used. Raises CouponInvalid for a coupon that
    is not a gift, is used, or has expired. Locks the coupon's account first."""
    with step():
        account_lock(coupon.account_id)
        coupon = Coupon.objects.select_related("reward").get(pk=coupon.pk)
        if coupon.reward.kind != RewardKind.GIFT:
            raise errors.CouponInvalid(_("Only a gift coupon is handed out by staff."))
        if coupon.used_at is not None:
            raise errors.CouponInvalid(_("This coupon has already been used."))
        if now >= coupon.expires_at:
            raise errors.CouponInvalid(_("This coupon has expired."))
        Coupon.objects.filter(pk=coupon.pk).update(used_at=now, used_by=user)
        coupon.used_at, coupon.used_by = now, user
        return coupon
