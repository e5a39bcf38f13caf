"""The check calculation: pure, deterministic, explainable.

No ORM and no clock in here. The caller turns a programme into a ``ProgramSpec`` once
(``loader.program_spec``), the customer into a ``CustomerState``, and the basket into a
``CheckInput`` with ``now``; ``calculate`` returns a ``CheckResult`` that says what every point
is for, per line and per rule. The order of the steps is the contract of
docs/programme-format.md ("The check calculation"):

0. coupons: a reward coupon's money off comes off the lines it covers; promo codes switch on
   the rules that require them; every later step sees the line amounts after coupons;
1. redemption limit and the points discount, spread over the redeemable lines;
2. base accrual: the tier's percent of each earning line's paid amount;
3. multiplier rules (the highest factor on a line wins, no compounding);
4. bonus rules (fixed per item, threshold, Nth purchase, first purchase, events);
5. every rule's conditions, exclusivity and budgets; every rule's points rounded once;
6. the tier is the one held before the check.

Each rule kind is one small class (``KINDS``) that says which lines it touches and how many
raw points it gives; everything shared (conditions, rounding, budgets, allocation to lines,
the reason) lives once in ``calculate``. See docs/adr/0003-rounding-and-allocation.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import ROUND_DOWN, Decimal
from functools import cached_property
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_noop

from core import errors
from core.money import MONEY_QUANTUM, floor_money, points_quantum, quantize_money, rounding_mode

ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")
MAX = "max"


# --- what goes in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductSetSpec:
    code: str
    categories: frozenset[str] = frozenset()
    skus: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()

    def matches(self, line: LineInput) -> bool:
        if line.sku in self.exclude_skus:
            return False
        return line.sku in self.skus or line.category in self.categories


@dataclass(frozen=True)
class TierSpec:
    code: str
    name: str = ""
    rank: int = 0
    threshold: Decimal = ZERO
    earn_percent: Decimal = ZERO
    max_share: Decimal | None = None


@dataclass(frozen=True)
class RedemptionSpec:
    max_share: Decimal = ZERO
    min_order_amount: Decimal = ZERO
    min_balance: Decimal = ZERO
    max_points_per_check: Decimal | None = None
    exclude: tuple[str, ...] = ()
    allow_promo_items: bool = False
    earn_on_redeemed: bool = False


@dataclass(frozen=True)
class RuleSpec:
    code: str
    kind: str
    name: str = ""
    priority: int = 0
    exclusive: bool = False
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    days_of_week: tuple[int, ...] = ()
    hours: tuple[tuple[time, time], ...] = ()
    outlets: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_order_amount: Decimal | None = None
    lifetime_days: int | None = None
    # Points this rule may still award in total (None: unlimited). For a campaign's rule the
    # provider sets min(campaign left, rule left); the engine also makes the campaign's rules
    # share it within one check.
    budget_left: Decimal | None = None
    limit_per_customer: int | None = None
    offer: str | None = None
    campaign: str | None = None
    factor: Decimal | None = None
    points: Decimal | None = None
    min_amount: Decimal | None = None
    every: int | None = None
    event: str | None = None
    # A promo code (upper case) the check must give for the rule to apply (a campaign's).
    requires_code: str | None = None


@dataclass(frozen=True)
class ProgramSpec:
    code: str
    timezone: str = "UTC"
    precision: int = 0
    rounding: str = "down"
    point_value: Decimal = ONE
    lifetime_days: int | None = None
    hold_days: int = 0
    accrual_exclude: tuple[str, ...] = ()
    accrual_promo_items: bool = True
    redemption: RedemptionSpec = field(default_factory=RedemptionSpec)
    product_sets: Mapping[str, ProductSetSpec] = field(default_factory=dict)
    tiers: tuple[TierSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()

    def base_tier(self) -> TierSpec | None:
        """The entry tier: lowest rank, then lowest threshold."""
        if not self.tiers:
            return None
        return min(self.tiers, key=lambda t: (t.rank, t.threshold))

    def tier(self, code: str | None) -> TierSpec | None:
        for tier in self.tiers:
            if tier.code == code:
                return tier
        return self.base_tier()

    @cached_property
    def quantum(self) -> Decimal:
        return points_quantum(self.precision)

    @cached_property
    def rounding_mode(self) -> str:
        return rounding_mode(self.rounding)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def round_points(self, value: Decimal) -> Decimal:
        """A rule's points for a check: rounded once, the programme's way."""
        return value.quantize(self.quantum, rounding=self.rounding_mode)

    def floor_points(self, value: Decimal) -> Decimal:
        """Limits are always rounded down, whatever the programme rounds awards with."""
        return value.quantize(self.quantum, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class CustomerState:
    tier_code: str | None
    available: Decimal = ZERO
    purchases_count: int = 0
    segments: frozenset[str] = frozenset()
    rule_usage: Mapping[str, int] = field(default_factory=dict)
    offers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LineInput:
    sku: str
    category: str = ""
    name: str = ""
    quantity: Decimal = ONE
    price: Decimal = ZERO
    amount: Decimal | None = None  # after the cashier's own discounts; default quantity × price
    is_promo: bool = False

    def __post_init__(self):
        if self.amount is None:
            amount = quantize_money(Decimal(self.quantity) * Decimal(self.price))
            object.__setattr__(self, "amount", amount)


COUPON_KINDS = ("discount_amount", "discount_percent", "free_product", "gift")
PROMO = "promo"


@dataclass(frozen=True)
class CouponSpec:
    """A code given with a check, as the caller resolved it (the engine reads no database).

    ``kind`` is a reward kind (``COUPON_KINDS``) or ``PROMO`` (a campaign's code, which only
    switches on the rules that require it). ``rejected`` is set when the caller found the code
    unusable (unknown, expired, used, someone else's): the engine reports it and applies
    nothing.
    """

    code: str
    kind: str
    reward: str = ""
    amount: Decimal | None = None
    percent: Decimal | None = None
    max_amount: Decimal | None = None
    include: tuple[str, ...] = ()
    rejected: str | None = None


@dataclass(frozen=True)
class CheckInput:
    lines: tuple[LineInput, ...]
    now: datetime
    outlet: str | None = None
    channel: str | None = None
    redeem: Decimal | str | None = None  # points, "max", or None for none
    event: str | None = None  # set for an event award (no lines): only its event rules apply
    coupons: tuple[CouponSpec, ...] = ()


# --- what comes out ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineResult:
    index: int
    redeemed_points: Decimal
    discount: Decimal
    earned_points: Decimal
    rule_points: Mapping[str, Decimal]
    coupon_discount: Decimal = ZERO


APPLIED = "applied"
REJECTED = "rejected"


@dataclass(frozen=True)
class CouponResult:
    code: str
    kind: str
    reward: str
    status: str  # APPLIED or REJECTED
    reason: str  # English rendering of reason_template % reason_params
    reason_template: str
    reason_params: Mapping[str, str]
    discount: Decimal
    line_discounts: Mapping[int, Decimal]


@dataclass(frozen=True)
class BreakdownRow:
    rule: str  # a rule code, or "tier:<code>" for base accrual
    kind: str
    points: Decimal
    reason: str  # English rendering of reason_template % reason_params
    reason_template: str  # gettext msgid with %(name)s placeholders
    reason_params: Mapping[str, str]
    line_points: Mapping[int, Decimal]
    lifetime_days: int | None = None


@dataclass(frozen=True)
class CheckResult:
    subtotal: Decimal
    redeemable_amount: Decimal
    max_redeemable: Decimal
    redeemed_points: Decimal
    discount: Decimal
    payable: Decimal
    earned_points: Decimal
    tier_code: str | None
    lines: tuple[LineResult, ...]
    breakdown: tuple[BreakdownRow, ...]
    coupon_discount: Decimal = ZERO  # money off by coupons; ``discount`` is the points'
    coupons: tuple[CouponResult, ...] = ()


# --- allocation --------------------------------------------------------------------------------


def _line_key(line: LineInput, index: int) -> tuple:
    """A tie-break that depends on what a line is, so results do not depend on line order."""
    return (
        line.sku,
        line.category,
        line.name,
        str(line.quantity),
        str(line.price),
        str(line.amount),
        line.is_promo,
        index,
    )


def allocate(
    total: Decimal,
    weights: Mapping[int, Decimal],
    quantum: Decimal,
    tiebreak: Callable[[int], tuple] = lambda i: (i,),
) -> dict[int, Decimal]:
    """Split ``total`` (a multiple of ``quantum``) over the keys in proportion to their weights.

    Largest remainder: everyone gets the floor of their exact share, and the units left go one
    each to the largest remainders (ties: larger weight, then ``tiebreak``). The shares sum to
    ``total`` exactly and none is more than one quantum above its exact share.
    """
    if not weights:
        return {}
    units = int((total / quantum).to_integral_value(rounding=ROUND_DOWN))
    positive = {k: w for k, w in weights.items() if w > 0}
    if not positive:
        positive = dict.fromkeys(weights, ONE)
    whole = sum(positive.values(), ZERO)
    floors: dict[int, int] = {}
    remainders: dict[int, Decimal] = {}
    for key, weight in positive.items():
        exact = units * weight / whole
        floors[key] = int(exact.to_integral_value(rounding=ROUND_DOWN))
        remainders[key] = exact - floors[key]
    left = units - sum(floors.values())
    order = sorted(positive, key=lambda k: (-remainders[k], -positive[k], tiebreak(k)))
    for key in order[:left]:
        floors[key] += 1
    return {k: (quantum * floors[k]) if k in floors else quantum * 0 for k in weights}


def _fmt(value: Decimal) -> str:
    """A number for a reason without trailing zeros: 5, 2.5, 100 (not 1E+2)."""
    return format(value.normalize(), "f")


def _money(value: Decimal) -> str:
    return str(quantize_money(value))


# --- the rule kinds ----------------------------------------------------------------------------


@dataclass
class _Context:
    """What every rule kind may read about the check being calculated."""

    spec: ProgramSpec
    state: CustomerState
    check: CheckInput
    tier: TierSpec | None
    subtotal: Decimal
    earning: tuple[int, ...]  # indices of the lines that earn points
    paid: dict[int, Decimal]  # line index → amount the accrual is computed on
    base_raw: dict[int, Decimal]  # line index → unrounded base accrual
    in_sets: Callable[[Sequence[str]], frozenset[int]]  # product set codes → their lines
    promo_codes: frozenset[str] = frozenset()  # the promo codes the check applied

    def scope(self, rule: RuleSpec) -> tuple[int, ...]:
        """The earning lines a rule looks at: its include sets (or all), minus its exclude sets."""
        lines = self.earning
        if rule.include:
            chosen = self.in_sets(rule.include)
            lines = tuple(i for i in lines if i in chosen)
        if rule.exclude:
            dropped = self.in_sets(rule.exclude)
            lines = tuple(i for i in lines if i not in dropped)
        return lines


@dataclass(frozen=True)
class _Award:
    """A rule kind's unrounded award: per-line weights to share the points by, and the reason."""

    raw: Decimal
    weights: Mapping[int, Decimal]
    template: str
    capped_template: str
    params: Mapping[str, str]


def _products(rule: RuleSpec) -> str:
    return ", ".join(rule.include) if rule.include else "all products"


class RuleKind:
    code: str = ""

    def award(self, rule: RuleSpec, ctx: _Context) -> _Award | None:
        raise NotImplementedError

    @staticmethod
    def _spread(
        rule: RuleSpec, ctx: _Context, template: str, capped_template: str, **params: str
    ) -> _Award | None:
        """The rule's points shared by its lines in proportion to their paid amounts."""
        points = rule.points or ZERO
        lines = ctx.scope(rule)
        if not lines or points <= 0:
            return None
        return _Award(
            raw=points,
            weights={i: ctx.paid[i] for i in lines},
            template=template,
            capped_template=capped_template,
            params={"points": _fmt(points), **params},
        )


class Multiplier(RuleKind):
    """Scales the base accrual of the lines it matches; see ``_multipliers`` for who wins."""

    code = "multiplier"

    def award(self, rule: RuleSpec, ctx: _Context) -> _Award | None:
        factor = rule.factor or ZERO
        if factor <= ONE:
            return None
        weights = {i: ctx.base_raw[i] * (factor - ONE) for i in ctx.scope(rule) if ctx.base_raw[i]}
        if not weights:
            return None
        return _Award(
            raw=sum(weights.values(), ZERO),
            weights=weights,
            template=gettext_noop("×%(factor)s on %(products)s"),
            capped_template=gettext_noop("×%(factor)s on %(products)s, limited by the budget"),
            params={"factor": _fmt(factor), "products": _products(rule)},
        )


class FixedPerItem(RuleKind):
    """Points for every whole unit of the matched lines (a weighed 0.4 kg is no unit)."""

    code = "fixed_per_item"

    def award(self, rule: RuleSpec, ctx: _Context) -> _Award | None:
        points = rule.points or ZERO
        units = {
            i: ctx.check.lines[i].quantity.to_integral_value(rounding=ROUND_DOWN)
            for i in ctx.scope(rule)
        }
        units = {i: u for i, u in units.items() if u > 0}
        if points <= 0 or not units:
            return None
        items = sum(units.values(), ZERO)
        return _Award(
            raw=points * items,
            weights=units,
            template=gettext_noop("%(points)s per item × %(items)s"),
            capped_template=gettext_noop("%(points)s per item × %(items)s, limited by the budget"),
            params={"points": _fmt(points), "items": _fmt(items)},
        )


class Threshold(RuleKind):
    """Points once the matched lines reach ``min_amount`` (before the points discount)."""

    code = "threshold"

    def award(self, rule: RuleSpec, ctx: _Context) -> _Award | None:
        lines = ctx.scope(rule)
        amount = sum((ctx.check.lines[i].amount for i in lines), ZERO)
        if rule.min_amount is None or amount < rule.min_amount:
            return None
        return self._spread(
            rule,
            ctx,
            template=gettext_noop("%(points)s for a check of %(min_amount)s or more"),
            capped_template=gettext_noop(
                "%(points)s for a check of %(min_amount)s or more, limited by the budget"
            ),
            min_amount=_money(rule.min_amount),
        )


class NthPurchase(RuleKind):
    """Points on every ``every``-th purchase; this check is purchase number count + 1."""

    code = "nth_purchase"

    def award(self, rule: RuleSpec, ctx: _Context) -> _Award | None:
        number = ctx.state.purchases_count + 1
        if not rule.every or number % rule.every:
            return None
        return self._spread(
            rule,
            ctx,
            template=gettext_noop("%(points)s for purchase no. %(number)s (every %(every)s)"),
            capped_template=gettext_noop(
                "%(points)s for purchase no. %(number)s (every %(every)s), limited by the budget"
            ),
            number=str(number),
            every=str(rule.every),
        )


class FirstPurchase(RuleKind):
    code = "first_purchase"

    def award(self, rule: RuleSpec, ctx: _Context) -> _Award | None:
        if ctx.state.purchases_count:
            return None
        return self._spread(
            rule,
            ctx,
            template=gettext_noop("%(points)s for the first purchase"),
            capped_template=gettext_noop(
                "%(points)s for the first purchase, limited by the budget"
            ),
        )


class Event(RuleKind):
    """Points for a reported event (review, survey…); never for a check's lines."""

    code = "event"

    def award(self, rule: RuleSpec, ctx: _Context) -> _Award | None:
        points = rule.points or ZERO
        if not ctx.check.event or rule.event != ctx.check.event or points <= 0:
            return None
        return _Award(
            raw=points,
            weights={},
            template=gettext_noop("%(points)s for the event “%(event)s”"),
            capped_template=gettext_noop(
                "%(points)s for the event “%(event)s”, limited by the budget"
            ),
            params={"points": _fmt(points), "event": ctx.check.event},
        )


KINDS: dict[str, RuleKind] = {
    kind.code: kind
    for kind in (Multiplier(), FixedPerItem(), Threshold(), NthPurchase(), FirstPurchase(), Event())
}


# --- conditions --------------------------------------------------------------------------------


def _in_hours(windows: Sequence[tuple[time, time]], at: time) -> bool:
    for start, end in windows:
        if start < end and start <= at < end:
            return True
        if start >= end and (at >= start or at < end):  # a window across midnight
            return True
    return False


def rule_applies(rule: RuleSpec, ctx: _Context) -> bool:
    """The conditions shared by every kind (not the kind's own, nor the budget)."""
    check, state = ctx.check, ctx.state
    now = check.now
    if rule.valid_from is not None and now < rule.valid_from:
        return False
    if rule.valid_until is not None and now >= rule.valid_until:
        return False
    if rule.days_of_week or rule.hours:
        local = now.astimezone(ctx.spec.zone)
        if rule.days_of_week and local.isoweekday() not in rule.days_of_week:
            return False
        if rule.hours and not _in_hours(rule.hours, local.time().replace(tzinfo=None)):
            return False
    if rule.outlets and check.outlet not in rule.outlets:
        return False
    if rule.channels and check.channel not in rule.channels:
        return False
    if rule.tiers and (ctx.tier is None or ctx.tier.code not in rule.tiers):
        return False
    if rule.segments and not state.segments.intersection(rule.segments):
        return False
    if rule.offer is not None and rule.offer not in state.offers:
        return False
    if rule.requires_code is not None and rule.requires_code not in ctx.promo_codes:
        return False
    if rule.min_order_amount is not None and ctx.subtotal < rule.min_order_amount:
        return False
    used = state.rule_usage.get(rule.code, 0)
    if rule.limit_per_customer is not None and used >= rule.limit_per_customer:
        return False
    return not (rule.budget_left is not None and rule.budget_left <= 0)


# --- the calculation ---------------------------------------------------------------------------


def _validate(check: CheckInput) -> None:
    problems: dict[str, list[str]] = {}
    if check.now.tzinfo is None:
        problems["now"] = ["The time must carry a time zone."]
    for i, line in enumerate(check.lines):
        for name in ("quantity", "price", "amount"):
            value = getattr(line, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                problems[f"lines[{i}].{name}"] = ["Must be a decimal number."]
            elif value < 0:
                problems[f"lines[{i}].{name}"] = ["Must not be negative."]
    if problems:
        raise errors.ValidationFailed(fields=problems)


def _requested(spec: ProgramSpec, redeem) -> Decimal | str:
    if redeem is None:
        return ZERO
    if isinstance(redeem, str) and redeem.strip().lower() == MAX:
        return MAX
    try:
        points = Decimal(redeem)
    except (ArithmeticError, TypeError, ValueError):
        raise errors.ValidationFailed(
            fields={"redeem_points": ['A number of points or "max".']}
        ) from None
    if not points.is_finite() or points < 0:
        raise errors.ValidationFailed(fields={"redeem_points": ["Must not be negative."]})
    if points != spec.floor_points(points):
        raise errors.ValidationFailed(
            fields={"redeem_points": [f"Points have {spec.precision} decimal places here."]}
        )
    return points


def _redemption_limit(
    spec: ProgramSpec, state: CustomerState, tier: TierSpec | None, subtotal, redeemable_amount
) -> Decimal:
    policy = spec.redemption
    if subtotal < policy.min_order_amount or state.available < policy.min_balance:
        return ZERO
    share = tier.max_share if tier is not None and tier.max_share is not None else policy.max_share
    share = min(max(share, ZERO), ONE)
    limit = min(state.available, share * redeemable_amount / spec.point_value)
    if policy.max_points_per_check is not None:
        limit = min(limit, policy.max_points_per_check)
    return max(spec.floor_points(limit), ZERO)


def _reason(template: str, params: Mapping[str, str]) -> str:
    return template % dict(params)


def calculate(spec: ProgramSpec, state: CustomerState | None, check: CheckInput) -> CheckResult:
    """Everything a check redeems and earns, and why. Pure: reads only its arguments.

    ``state`` None is an anonymous check: it earns and redeems nothing. Raises
    ValidationFailed (bad lines, time without zone, bad redeem value), RedeemNotAllowed
    (points requested where none may be redeemed), InsufficientPoints (more than the
    balance) and RedeemLimitExceeded (more than the limit; the maximum is in the detail).
    """
    _validate(check)
    lines = check.lines
    indices = range(len(lines))
    keys = {i: _line_key(line, i) for i, line in enumerate(lines)}
    tiebreak = keys.__getitem__
    subtotal = sum((line.amount for line in lines), ZERO)
    requested = _requested(spec, check.redeem)
    set_members = {
        code: frozenset(i for i in indices if ps.matches(lines[i]))
        for code, ps in spec.product_sets.items()
    }

    def members(codes) -> frozenset[int]:
        found: set[int] = set()
        for code in codes:
            found |= set_members.get(code, frozenset())
        return frozenset(found)

    # 0. Coupons: every later step sees the line amounts after them.
    coupon_results, promo_codes = _coupons(check.coupons, lines, members, tiebreak)
    line_coupon: dict[int, Decimal] = {i: ZERO for i in indices}
    for coupon in coupon_results:
        for i, off in coupon.line_discounts.items():
            line_coupon[i] += off
    coupon_discount = sum(line_coupon.values(), ZERO * MONEY_QUANTUM)
    if coupon_discount:
        lines = tuple(
            dataclasses.replace(line, amount=line.amount - line_coupon[i])
            for i, line in enumerate(lines)
        )
        check = dataclasses.replace(check, lines=lines)
    net_subtotal = subtotal - coupon_discount

    # 1. Redemption.
    policy = spec.redemption
    not_redeemable = members(policy.exclude)
    redeemable = [
        i
        for i in indices
        if i not in not_redeemable and (policy.allow_promo_items or not lines[i].is_promo)
    ]
    redeemable_amount = sum((lines[i].amount for i in redeemable), ZERO)
    tier = spec.tier(state.tier_code) if state is not None else None
    if state is None:
        limit = ZERO
        if requested != MAX and requested > 0:
            raise errors.RedeemNotAllowed("An anonymous check cannot redeem points.")
    else:
        limit = _redemption_limit(spec, state, tier, net_subtotal, redeemable_amount)
    redeemed = ZERO
    if requested == MAX:
        redeemed = limit
    elif requested > 0:
        if limit == 0:
            if not redeemable_amount:
                raise errors.RedeemNotAllowed("No line of this check may be paid with points.")
            if net_subtotal < policy.min_order_amount:
                raise errors.RedeemNotAllowed(
                    f"Points can be redeemed from an order of {_money(policy.min_order_amount)}."
                )
            if state.available < policy.min_balance:
                raise errors.RedeemNotAllowed(
                    f"Points can be redeemed from a balance of {_fmt(policy.min_balance)}."
                )
        if requested > state.available:
            raise errors.InsufficientPoints(
                f"Requested {_fmt(requested)} points, the balance is {_fmt(state.available)}."
            )
        if requested > limit:
            raise errors.RedeemLimitExceeded(
                f"At most {_fmt(limit)} points can be redeemed on this check."
            )
        redeemed = requested
    discount = floor_money(redeemed * spec.point_value)
    weights = {i: lines[i].amount for i in redeemable}
    line_redeemed = allocate(redeemed, weights, spec.quantum, tiebreak) if redeemed else {}
    line_discount = allocate(discount, weights, MONEY_QUANTUM, tiebreak) if discount else {}

    rows: list[BreakdownRow] = []
    if state is not None:
        rows = _accrual(
            spec, state, check, tier, net_subtotal, line_discount, members, tiebreak, promo_codes
        )
    rows = [_coupon_row(spec, c) for c in coupon_results if c.status == APPLIED] + rows

    per_line: dict[int, dict[str, Decimal]] = {i: {} for i in indices}
    for row in rows:
        for i, pts in row.line_points.items():
            per_line[i][row.rule] = per_line[i].get(row.rule, ZERO) + pts
    line_results = tuple(
        LineResult(
            index=i,
            redeemed_points=line_redeemed.get(i, ZERO * spec.quantum),
            discount=line_discount.get(i, ZERO * MONEY_QUANTUM),
            earned_points=sum(per_line[i].values(), ZERO * spec.quantum),
            rule_points=per_line[i],
            coupon_discount=line_coupon[i],
        )
        for i in indices
    )
    return CheckResult(
        subtotal=subtotal,
        redeemable_amount=redeemable_amount,
        max_redeemable=limit,
        redeemed_points=redeemed,
        discount=discount,
        payable=subtotal - coupon_discount - discount,
        earned_points=sum((row.points for row in rows), ZERO * spec.quantum),
        tier_code=tier.code if tier is not None else None,
        lines=line_results,
        breakdown=tuple(rows),
        coupon_discount=coupon_discount,
        coupons=coupon_results,
    )


# --- step 0: coupons ---------------------------------------------------------------------------


def _coupon_result(coupon: CouponSpec, status, template, params, shares=None) -> CouponResult:
    shares = {i: off for i, off in (shares or {}).items() if off > 0}
    return CouponResult(
        code=coupon.code,
        kind=coupon.kind,
        reward=coupon.reward,
        status=status,
        reason=_reason(template, params),
        reason_template=template,
        reason_params=dict(params),
        discount=sum(shares.values(), ZERO * MONEY_QUANTUM),
        line_discounts=shares,
    )


def _coupons(
    coupons: Sequence[CouponSpec], lines: Sequence[LineInput], members, tiebreak
) -> tuple[tuple[CouponResult, ...], frozenset[str]]:
    """Apply the coupons in the order given, each to the line amounts the ones before left.

    A fixed amount is shared over the lines it covers in proportion to their amounts (largest
    remainder), a percent is taken off each covered line (a cap applies to the coupon's total,
    shared the same way), a free product takes one unit's price (amount ÷ quantity) of the
    cheapest covered line. No share exceeds what is left of its line.
    """
    left = {i: line.amount for i, line in enumerate(lines)}
    results: list[CouponResult] = []
    promo: set[str] = set()
    seen: set[str] = set()
    for coupon in coupons:
        params = {"code": coupon.code}
        if coupon.code in seen:
            results.append(
                _coupon_result(coupon, REJECTED, gettext_noop("The code is given twice."), params)
            )
            continue
        seen.add(coupon.code)
        if coupon.rejected is not None:
            results.append(_coupon_result(coupon, REJECTED, coupon.rejected, params))
            continue
        if coupon.kind == PROMO:
            promo.add(coupon.code)
            results.append(
                _coupon_result(
                    coupon,
                    APPLIED,
                    gettext_noop("Promo code %(code)s: the campaign's offers apply."),
                    params,
                )
            )
            continue
        if coupon.kind == "gift":
            results.append(
                _coupon_result(
                    coupon,
                    REJECTED,
                    gettext_noop("A gift is handed out by staff, not taken off a check."),
                    params,
                )
            )
            continue
        covered = members(coupon.include) if coupon.include else frozenset(left)
        eligible = sorted(i for i in covered if left[i] > 0)
        if not eligible or (coupon.kind == "free_product" and not coupon.include):
            results.append(
                _coupon_result(
                    coupon, REJECTED, gettext_noop("No line of this check is covered."), params
                )
            )
            continue
        weights = {i: left[i] for i in eligible}
        base = sum(weights.values(), ZERO)
        params["products"] = ", ".join(coupon.include) if coupon.include else "all products"
        if coupon.kind == "discount_amount":
            total = min(floor_money(coupon.amount or ZERO), base)
            shares = allocate(total, weights, MONEY_QUANTUM, tiebreak)
            params["amount"] = _money(coupon.amount or ZERO)
            template = gettext_noop("%(amount)s off %(products)s")
        elif coupon.kind == "discount_percent":
            percent = coupon.percent or ZERO
            shares = {i: floor_money(w * percent / HUNDRED) for i, w in weights.items()}
            params["percent"] = _fmt(percent)
            template = gettext_noop("%(percent)s%% off %(products)s")
            total = sum(shares.values(), ZERO)
            if coupon.max_amount is not None and total > coupon.max_amount:
                total = floor_money(coupon.max_amount)
                shares = allocate(total, weights, MONEY_QUANTUM, tiebreak)
                params["max_amount"] = _money(coupon.max_amount)
                template = gettext_noop("%(percent)s%% off %(products)s, at most %(max_amount)s")
        elif coupon.kind == "free_product":

            def unit(i: int) -> Decimal:
                quantity = lines[i].quantity
                price = floor_money(left[i] / quantity) if quantity >= ONE else left[i]
                return min(price, left[i])

            cheapest = min(eligible, key=lambda i: (unit(i), tiebreak(i)))
            shares = {cheapest: unit(cheapest)}
            params["product"] = lines[cheapest].name or lines[cheapest].sku
            template = gettext_noop("One %(product)s free")
        else:
            results.append(
                _coupon_result(
                    coupon, REJECTED, gettext_noop("This coupon cannot be used here."), params
                )
            )
            continue
        for i, off in shares.items():
            left[i] -= off
        result = _coupon_result(coupon, APPLIED, template, params, shares)
        results.append(result)
    return tuple(results), frozenset(promo)


def _coupon_row(spec: ProgramSpec, coupon: CouponResult) -> BreakdownRow:
    """Step 0 in the breakdown: what the coupon took off (no points)."""
    return BreakdownRow(
        rule=f"coupon:{coupon.code}",
        kind="coupon",
        points=ZERO * spec.quantum,
        reason=coupon.reason,
        reason_template=coupon.reason_template,
        reason_params=coupon.reason_params,
        line_points={},
    )


def _accrual(
    spec, state, check, tier, subtotal, line_discount, members, tiebreak, promo_codes=frozenset()
) -> list[BreakdownRow]:
    lines = check.lines
    # 2. Base accrual on the earning lines' paid amounts.
    excluded = members(spec.accrual_exclude)
    earning = tuple(
        i
        for i in range(len(lines))
        if i not in excluded and (spec.accrual_promo_items or not lines[i].is_promo)
    )
    paid = {
        i: lines[i].amount
        - (ZERO if spec.redemption.earn_on_redeemed else line_discount.get(i, ZERO))
        for i in earning
    }
    percent = tier.earn_percent if tier is not None else ZERO
    rate = percent / HUNDRED / spec.point_value
    base_raw = {i: paid[i] * rate for i in earning}
    ctx = _Context(
        spec=spec,
        state=state,
        check=check,
        tier=tier,
        subtotal=subtotal,
        earning=earning,
        paid=paid,
        base_raw=base_raw,
        in_sets=members,
        promo_codes=promo_codes,
    )
    rows: list[BreakdownRow] = []
    base_total = spec.round_points(sum(base_raw.values(), ZERO))
    if base_total > 0:
        paid_total = sum(paid.values(), ZERO)
        template = gettext_noop("%(percent)s%% of %(amount)s")
        params = {"percent": _fmt(percent), "amount": _money(paid_total)}
        rows.append(
            BreakdownRow(
                rule=f"tier:{tier.code}",
                kind="tier",
                points=base_total,
                reason=_reason(template, params),
                reason_template=template,
                reason_params=params,
                line_points=_positive(allocate(base_total, base_raw, spec.quantum, tiebreak)),
                lifetime_days=None,
            )
        )

    # 3–5. Rules: conditions, the kind's award, exclusivity per kind, budgets in priority order.
    candidates: dict[str, list[tuple[RuleSpec, _Award]]] = {}
    for rule in sorted(spec.rules, key=lambda r: (-r.priority, r.code)):
        kind = KINDS.get(rule.kind)
        if kind is None or not rule_applies(rule, ctx):
            continue
        award = kind.award(rule, ctx)
        if award is None or award.raw <= 0:
            continue
        candidates.setdefault(rule.kind, []).append((rule, award))
    chosen: list[tuple[RuleSpec, _Award]] = []
    for kind_code, found in candidates.items():
        exclusive = [pair for pair in found if pair[0].exclusive]
        found = exclusive[:1] if exclusive else found
        if kind_code == Multiplier.code:
            found = _highest_factor_wins(found)
        chosen.extend(found)
    chosen.sort(key=lambda pair: (pair[0].kind != Multiplier.code, -pair[0].priority, pair[0].code))
    spent_by_campaign: dict[str, Decimal] = {}
    for rule, award in chosen:
        points = spec.round_points(award.raw)
        cap = None
        if rule.budget_left is not None:
            cap = rule.budget_left
            if rule.campaign is not None:
                cap -= spent_by_campaign.get(rule.campaign, ZERO)
            cap = max(spec.floor_points(cap), ZERO)
        capped = cap is not None and points > cap
        if capped:
            points = cap
        if points <= 0:
            continue
        if rule.campaign is not None:
            spent_by_campaign[rule.campaign] = spent_by_campaign.get(rule.campaign, ZERO) + points
        template = award.capped_template if capped else award.template
        rows.append(
            BreakdownRow(
                rule=rule.code,
                kind=rule.kind,
                points=points,
                reason=_reason(template, award.params),
                reason_template=template,
                reason_params=dict(award.params),
                line_points=_positive(allocate(points, award.weights, spec.quantum, tiebreak)),
                lifetime_days=rule.lifetime_days,
            )
        )
    return rows


def _highest_factor_wins(found: list[tuple[RuleSpec, _Award]]) -> list[tuple[RuleSpec, _Award]]:
    """Each line keeps only the largest multiplier that matches it (ties: higher priority)."""
    best: dict[int, tuple[RuleSpec, _Award]] = {}
    for rule, award in found:  # already in priority order
        for i in award.weights:
            held = best.get(i)
            if held is None or (rule.factor or ZERO) > (held[0].factor or ZERO):
                best[i] = (rule, award)
    kept: list[tuple[RuleSpec, _Award]] = []
    for rule, award in found:
        mine = {i: w for i, w in award.weights.items() if best[i][0] is rule}
        if mine:
            kept.append(
                (
                    rule,
                    _Award(
                        raw=sum(mine.values(), ZERO),
                        weights=mine,
                        template=award.template,
                        capped_template=award.capped_template,
                        params=award.params,
                    ),
                )
            )
    return kept


def _positive(shares: Mapping[int, Decimal]) -> dict[int, Decimal]:
    return {i: pts for i, pts in shares.items() if pts > 0}
