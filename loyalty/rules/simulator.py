"""The admin simulator: a basket through the same engine the POS uses, without a customer.

The marketer picks the tier, balance and purchase count a customer would have; the programme
is read through ``loader.program_spec`` exactly as ``check_calculate`` reads it, and the engine
computes the result. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext

from loyalty.rules import engine, loader
from loyalty.rules.models import Outlet, Program, Reward, Tier
from loyalty.rules.rewards import code_normalise, codes_normalise, coupon_spec


@dataclass(frozen=True)
class Simulation:
    result: engine.CheckResult
    spec: engine.ProgramSpec
    state: engine.CustomerState
    lines: tuple[engine.LineInput, ...]

    def reasons(self) -> list[tuple[engine.BreakdownRow, str]]:
        """Breakdown rows with their reasons in the admin's language."""
        return [(row, gettext(row.reason_template) % dict(row.reason_params)) for row in self.rows]

    def coupon_rows(self) -> list[tuple[engine.CouponResult, str]]:
        return [
            (c, gettext(c.reason_template) % dict(c.reason_params)) for c in self.result.coupons
        ]

    @property
    def rows(self) -> tuple[engine.BreakdownRow, ...]:
        return self.result.breakdown

    def line_rows(self) -> list[tuple[engine.LineInput, engine.LineResult]]:
        by_index = {line.index: line for line in self.result.lines}
        return [(line, by_index[i]) for i, line in enumerate(self.lines)]


def basket_simulate(
    *,
    program: Program,
    tier: Tier | None,
    outlet: Outlet,
    lines: Sequence[engine.LineInput],
    at: datetime,
    redeem: Decimal | str | None,
    available: Decimal,
    purchases_count: int = 0,
    segments: Iterable[str] = (),
    coupons: Iterable[str] = (),
) -> Simulation:
    """What a customer in ``tier`` with ``available`` points would redeem and earn. Reads only.

    ``coupons``: a reward's code simulates a fresh coupon of that reward; any other code is
    taken as a promo code (it switches on the campaign rules that require it).
    ``tier`` None means the programme's entry tier. Raises the engine's errors
    (ValidationFailed, RedeemNotAllowed, InsufficientPoints, RedeemLimitExceeded).
    """
    spec = loader.program_spec(program)
    if tier is None:
        base = spec.base_tier()
        tier_code = base.code if base else None
    else:
        tier_code = tier.code
    state = engine.CustomerState(
        tier_code=tier_code,
        available=available,
        purchases_count=purchases_count,
        segments=frozenset(segments),
    )
    check = engine.CheckInput(
        lines=tuple(lines),
        outlet=outlet.code,
        channel=outlet.channel,
        now=at,
        redeem=redeem,
        coupons=simulated_coupons(program, coupons),
    )
    result = engine.calculate(spec, state, check)
    return Simulation(result=result, spec=spec, state=state, lines=tuple(lines))


def simulated_coupons(program: Program, codes: Iterable[str]) -> tuple[engine.CouponSpec, ...]:
    wanted = codes_normalise(codes)
    if not wanted:
        return ()
    rewards = {
        code_normalise(r.code): r
        for r in Reward.objects.filter(program=program).prefetch_related("include")
    }
    return tuple(
        coupon_spec(rewards[code], code=code)
        if code in rewards
        else engine.CouponSpec(code=code, kind=engine.PROMO)
        for code in wanted
    )
