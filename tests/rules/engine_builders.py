"""Plain builders for engine tests: specs and inputs, no database."""

from datetime import UTC, datetime
from decimal import Decimal

from loyalty.rules import engine

# A Monday, 15:00 in Moscow.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def D(value) -> Decimal:
    return Decimal(str(value))


SETS = {
    "coffee": engine.ProductSetSpec(
        code="coffee", categories=frozenset({"coffee"}), skus=frozenset({"LATTE"})
    ),
    "tobacco": engine.ProductSetSpec(code="tobacco", categories=frozenset({"tobacco"})),
    "pastry": engine.ProductSetSpec(
        code="pastry", categories=frozenset({"pastry"}), exclude_skus=frozenset({"STALE"})
    ),
}
TIERS = (
    engine.TierSpec(code="base", name="Base", rank=0, threshold=D(0), earn_percent=D(5)),
    engine.TierSpec(
        code="gold", name="Gold", rank=1, threshold=D(1000), earn_percent=D(10), max_share=D("0.5")
    ),
)


def program(*rules: engine.RuleSpec, **fields) -> engine.ProgramSpec:
    redemption = fields.pop("redemption", {})
    defaults = {
        "code": "coffee",
        "timezone": "Europe/Moscow",
        "precision": 0,
        "rounding": "down",
        "point_value": D(1),
        "lifetime_days": 365,
        "hold_days": 0,
        "accrual_exclude": ("tobacco",),
        "accrual_promo_items": True,
        "redemption": engine.RedemptionSpec(
            **{"max_share": D("0.30"), "exclude": ("tobacco",), **redemption}
        ),
        "product_sets": SETS,
        "tiers": TIERS,
        "rules": rules,
    }
    return engine.ProgramSpec(**{**defaults, **fields})


def rule(code: str, kind: str, **fields) -> engine.RuleSpec:
    return engine.RuleSpec(code=code, kind=kind, **fields)


def state(tier="base", available=0, purchases=3, **fields) -> engine.CustomerState:
    return engine.CustomerState(
        tier_code=tier, available=D(available), purchases_count=purchases, **fields
    )


def line(sku="LATTE", category="coffee", qty=1, price="100.00", promo=False, amount=None):
    return engine.LineInput(
        sku=sku,
        category=category,
        name=sku.title(),
        quantity=D(qty),
        price=D(price),
        amount=None if amount is None else D(amount),
        is_promo=promo,
    )


def check(*lines, redeem=None, now=NOW, outlet="msk-1", channel="offline", event=None):
    return engine.CheckInput(
        lines=tuple(lines), now=now, outlet=outlet, channel=channel, redeem=redeem, event=event
    )


def calc(spec, lines=(), customer=None, **kwargs) -> engine.CheckResult:
    customer = state() if customer is None else customer
    return engine.calculate(spec, customer, check(*lines, **kwargs))


def points(result: engine.CheckResult) -> dict[str, Decimal]:
    """Breakdown as {rule: points}."""
    return {row.rule: row.points for row in result.breakdown}


def row(result: engine.CheckResult, code: str) -> engine.BreakdownRow:
    return next(r for r in result.breakdown if r.rule == code)
