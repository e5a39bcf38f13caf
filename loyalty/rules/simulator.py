"""The admin simulator: a basket through the same engine the POS uses. Nothing is written.

The customer is either a real one, found by phone or card number, whose state (tier, balance,
purchase count, segments, per-customer rule usage) is read by the ledger exactly as the till's
calculation reads it; or a hypothetical one whose tier, balance and purchase count the
marketer types. The ledger sits above this layer, so it fills ``customer_finders`` in its
``AppConfig.ready()``. The programme is read through ``loader.program_spec`` exactly as
``check_calculate`` reads it, and the engine computes the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext

from core.formatting import as_decimal, number_text
from loyalty.rules import engine, loader
from loyalty.rules.models import Outlet, Program, Reward, Tier
from loyalty.rules.rewards import code_normalise, codes_normalise, coupon_spec


@dataclass(frozen=True)
class SimulatedCustomer:
    """A real customer's state as the till's calculation would see it."""

    label: str  # name and masked phone, for the page
    account_id: int
    tier_name: str | None
    available: Decimal
    pending: Decimal
    purchases_count: int
    state: engine.CustomerState


# (program=, query=, now=) → SimulatedCustomer, or None when nobody matches.
customer_finders: list[Callable[..., SimulatedCustomer | None]] = []


def customer_find(*, program: Program, query: str, now: datetime) -> SimulatedCustomer | None:
    for finder in customer_finders:
        found = finder(program=program, query=query, now=now)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Simulation:
    result: engine.CheckResult
    spec: engine.ProgramSpec
    state: engine.CustomerState
    lines: tuple[engine.LineInput, ...]
    customer: SimulatedCustomer | None = None

    def reasons(self) -> list[tuple[engine.BreakdownRow, str]]:
        """Breakdown rows with their reasons in the admin's language and its numbers."""
        rows = []
        for row in self.rows:
            params = {}
            for name, value in row.reason_params.items():
                places = 2 if name in {"amount", "min_amount"} else None
                params[name] = (
                    number_text(value, places) if as_decimal(value) is not None else value
                )
            rows.append((row, gettext(row.reason_template) % params))
        return rows

    def rule_names(self) -> dict[str, str]:
        """A breakdown's rule code → the name a marketer gave it ("tier:silver" → "Silver")."""
        names = {f"tier:{t.code}": t.name for t in self.spec.tiers}
        names.update({r.code: r.name or r.code for r in self.spec.rules})
        return names

    def named_reasons(self) -> list[tuple[engine.BreakdownRow, str, str]]:
        """(row, rule name, reason): base accrual reads "Base accrual: <tier>"."""
        names = self.rule_names()
        rows = []
        for row, reason in self.reasons():
            if row.rule.startswith("tier:"):
                name = gettext("Base accrual: %(tier)s") % {"tier": names.get(row.rule, row.rule)}
            else:
                name = names.get(row.rule, row.rule)
            rows.append((row, name, reason))
        return rows

    @property
    def tier_name(self) -> str | None:
        code = self.result.tier_code
        return next((t.name for t in self.spec.tiers if t.code == code), code)

    def coupon_rows(self) -> list[tuple[engine.CouponResult, str]]:
        return [
            (c, gettext(c.reason_template) % dict(c.reason_params)) for c in self.result.coupons
        ]

    @property
    def rows(self) -> tuple[engine.BreakdownRow, ...]:
        return self.result.breakdown

    def line_rows(self) -> list[tuple[int, engine.LineInput, engine.LineResult, list]]:
        """(number from 1, line, its result, [(rule name, points)])."""
        by_index = {line.index: line for line in self.result.lines}
        names = self.rule_names()
        rows = []
        for i, line in enumerate(self.lines):
            res = by_index[i]
            by_rule = [(names.get(code, code), pts) for code, pts in res.rule_points.items()]
            rows.append((i + 1, line, res, by_rule))
        return rows


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
    customer: SimulatedCustomer | None = None,
) -> Simulation:
    """What a customer in ``tier`` with ``available`` points would redeem and earn. Reads only.

    ``coupons``: a reward's code simulates a fresh coupon of that reward; any other code is
    taken as a promo code (it switches on the campaign rules that require it).
    ``tier`` None means the programme's entry tier. A real ``customer`` brings their own state
    and the typed tier, balance, purchases and segments are ignored. Raises the engine's errors
    (ValidationFailed, RedeemNotAllowed, InsufficientPoints, RedeemLimitExceeded).
    """
    spec = loader.program_spec(program)
    if customer is not None:
        state = customer.state
    else:
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
    return Simulation(result=result, spec=spec, state=state, lines=tuple(lines), customer=customer)


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
