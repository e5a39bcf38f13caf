"""The rewards catalogue as data: which rewards are on offer, and a reward as a coupon spec.

Rewards are configuration of the programme (``Reward``); claiming one is a ledger operation
(``loyalty.ledger.services.rewards``). Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, Q, QuerySet

from loyalty.rules import engine
from loyalty.rules.models import Program, Reward, RewardKind


def rewards_active(program: Program, *, now: datetime) -> QuerySet[Reward]:
    """The programme's rewards on offer at ``now``: active, within their dates, in stock.

    Ordered by points cost, then code, then id; tiers and product sets prefetched.
    """
    return (
        Reward.objects.filter(program=program, is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(Q(stock__isnull=True) | Q(claimed__lt=F("stock")))
        .prefetch_related("tiers", "include")
        .order_by("points_cost", "code", "id")
    )


def reward_tier_codes(reward: Reward) -> list[str]:
    return sorted(t.code for t in reward.tiers.all())


def reward_include_codes(reward: Reward) -> tuple[str, ...]:
    return tuple(sorted(ps.code for ps in reward.include.all()))


def reward_stock_left(reward: Reward) -> int | None:
    return None if reward.stock is None else max(reward.stock - reward.claimed, 0)


def coupon_spec(reward: Reward, *, code: str, rejected: str | None = None) -> engine.CouponSpec:
    """The engine's view of a coupon of ``reward`` (``include`` read from its prefetch)."""
    return engine.CouponSpec(
        code=code,
        kind=reward.kind,
        reward=reward.code,
        amount=reward.amount,
        percent=reward.percent,
        max_amount=reward.max_amount,
        include=reward_include_codes(reward),
        rejected=rejected,
    )


def code_normalise(code: str) -> str:
    """Codes are matched without case and surrounding spaces."""
    return (code or "").strip().upper()


def codes_normalise(codes: Iterable[str]) -> list[str]:
    return [code_normalise(c) for c in codes]


__all__ = [
    "RewardKind",
    "code_normalise",
    "codes_normalise",
    "coupon_spec",
    "reward_include_codes",
    "reward_stock_left",
    "reward_tier_codes",
    "rewards_active",
]
