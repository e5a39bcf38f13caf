"""Invariants of the engine over generated programmes, baskets and customers (hypothesis)."""

from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core import errors
from loyalty.rules import engine
from tests.rules.engine_builders import D, check, program, rule, state

PRODUCTS = [
    ("LATTE", "coffee"),
    ("MOCHA", "coffee"),
    ("CAKE", "pastry"),
    ("STALE", "pastry"),
    ("CIG", "tobacco"),
    ("WATER", "drinks"),
]


def money(low=0, high=200_000):
    return st.integers(low, high).map(lambda cents: Decimal(cents).scaleb(-2))


@st.composite
def lines(draw):
    sku, category = draw(st.sampled_from(PRODUCTS))
    quantity = draw(
        st.one_of(st.integers(1, 5).map(Decimal), st.integers(1, 3000).map(lambda g: D(g) / 1000))
    )
    price = draw(money(0, 300_000))
    amount = draw(st.one_of(st.none(), money(0, 500_000)))
    return engine.LineInput(
        sku=sku,
        category=category,
        name=sku,
        quantity=quantity,
        price=price,
        amount=amount,
        is_promo=draw(st.booleans()),
    )


@st.composite
def programs(draw):
    precision = draw(st.sampled_from([0, 2]))
    budget = st.one_of(st.none(), st.integers(0, 500).map(Decimal))
    sets = st.sampled_from([(), ("coffee",), ("pastry",), ("coffee", "drinks")])
    rules = [
        rule(
            "x2",
            "multiplier",
            factor=draw(st.sampled_from([D(1), D("1.5"), D(2), D(3)])),
            include=draw(sets),
            budget_left=draw(budget),
        ),
        rule(
            "x3",
            "multiplier",
            factor=D(3),
            include=draw(sets),
            exclusive=draw(st.booleans()),
            priority=draw(st.integers(0, 3)),
        ),
        rule(
            "per-item",
            "fixed_per_item",
            points=D(draw(st.integers(1, 50))),
            include=draw(sets),
            budget_left=draw(budget),
            campaign="c",
        ),
        rule(
            "big",
            "threshold",
            min_amount=draw(money(0, 300_000)),
            points=D(draw(st.integers(1, 500))),
            budget_left=draw(budget),
            campaign="c",
            priority=draw(st.integers(0, 3)),
        ),
        rule(
            "nth", "nth_purchase", every=draw(st.integers(1, 4)), points=D(30), exclude=draw(sets)
        ),
        rule("first", "first_purchase", points=D(100), exclusive=draw(st.booleans())),
    ]
    return program(
        *rules,
        precision=precision,
        rounding=draw(st.sampled_from(["down", "half_up", "up"])),
        point_value=draw(st.sampled_from([D("1.00"), D("0.50"), D("2.00"), D("0.10")])),
        accrual_promo_items=draw(st.booleans()),
        redemption={
            "max_share": draw(st.integers(0, 100).map(lambda p: D(p) / 100)),
            "min_order_amount": draw(money(0, 100_000)),
            "min_balance": D(draw(st.integers(0, 300))),
            "max_points_per_check": draw(st.one_of(st.none(), st.integers(0, 2000).map(D))),
            "allow_promo_items": draw(st.booleans()),
            "earn_on_redeemed": draw(st.booleans()),
        },
    )


@st.composite
def customers(draw, spec):
    available = D(draw(st.integers(-500, 500_000))) * spec.quantum
    return engine.CustomerState(
        tier_code=draw(st.sampled_from(["base", "gold"])),
        available=available,
        purchases_count=draw(st.integers(0, 10)),
    )


@st.composite
def cases(draw):
    spec = draw(programs())
    basket = draw(st.lists(lines(), min_size=1, max_size=8))
    customer = draw(customers(spec))
    redeem = draw(
        st.one_of(
            st.none(),
            st.just("max"),
            st.integers(0, 300_000).map(lambda n: D(n) * spec.quantum),
        )
    )
    return spec, basket, customer, redeem


def run(spec, basket, customer, redeem):
    try:
        return engine.calculate(spec, customer, check(*basket, redeem=redeem))
    except (errors.RedeemLimitExceeded, errors.InsufficientPoints, errors.RedeemNotAllowed):
        # An explicit request the check cannot take: "max" must always be within the limit.
        assert redeem not in (None, "max")
        return engine.calculate(spec, customer, check(*basket, redeem="max"))


SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(cases())
def test_per_line_shares_sum_exactly_to_the_totals(case):
    result = run(*case)
    assert sum(ln.redeemed_points for ln in result.lines) == result.redeemed_points
    assert sum(ln.discount for ln in result.lines) == result.discount
    assert sum(ln.earned_points for ln in result.lines) == result.earned_points
    assert sum(row.points for row in result.breakdown) == result.earned_points
    for row in result.breakdown:
        assert sum(row.line_points.values()) == row.points
        assert row.points == row.points.quantize(case[0].quantum)
    for ln in result.lines:
        assert sum(ln.rule_points.values()) == ln.earned_points
    assert result.payable == result.subtotal - result.discount


@SETTINGS
@given(cases())
def test_redemption_never_exceeds_any_limit(case):
    spec, basket, customer, _ = case
    result = run(*case)
    policy = spec.redemption
    tier = spec.tier(customer.tier_code)
    share = tier.max_share if tier.max_share is not None else policy.max_share
    assert 0 <= result.redeemed_points <= result.max_redeemable
    assert result.max_redeemable <= max(customer.available, 0)
    assert result.max_redeemable * spec.point_value <= share * result.redeemable_amount
    if policy.max_points_per_check is not None:
        assert result.max_redeemable <= policy.max_points_per_check
    if result.subtotal < policy.min_order_amount or customer.available < policy.min_balance:
        assert result.max_redeemable == 0
    assert result.discount <= result.redeemable_amount
    for ln, item in zip(result.lines, basket, strict=True):
        assert 0 <= ln.discount <= item.amount
        if ln.redeemed_points:
            assert item.category != "tobacco"
            assert policy.allow_promo_items or not item.is_promo


@SETTINGS
@given(cases())
def test_accrual_is_never_negative_and_budgets_hold(case):
    spec, basket, _, _ = case
    result = run(*case)
    assert result.earned_points >= 0
    for row in result.breakdown:
        assert row.points > 0
        assert all(p > 0 for p in row.line_points.values())
    by_rule = {row.rule: row.points for row in result.breakdown}
    for spec_rule in spec.rules:
        if spec_rule.budget_left is not None:
            assert by_rule.get(spec_rule.code, 0) <= spec_rule.budget_left
    campaign = [r for r in spec.rules if r.campaign == "c" and r.budget_left is not None]
    if len(campaign) == len([r for r in spec.rules if r.campaign == "c"]):
        # Every rule of the campaign carries min(campaign left, rule left): together they stay
        # within the smallest of those.
        spent = sum(by_rule.get(r.code, 0) for r in campaign)
        assert spent <= max(r.budget_left for r in campaign)
    for ln, item in zip(result.lines, basket, strict=True):
        if item.category == "tobacco":
            assert ln.earned_points == 0


@SETTINGS
@given(cases(), st.data())
def test_results_do_not_depend_on_line_order(case, data):
    spec, basket, customer, redeem = case
    order = data.draw(st.permutations(range(len(basket))))
    first = run(spec, basket, customer, redeem)
    second = run(spec, [basket[i] for i in order], customer, redeem)
    totals = ("subtotal", "max_redeemable", "redeemed_points", "discount", "earned_points")
    assert [getattr(first, f) for f in totals] == [getattr(second, f) for f in totals]
    assert {r.rule: (r.points, r.reason) for r in first.breakdown} == {
        r.rule: (r.points, r.reason) for r in second.breakdown
    }

    def per_line(result, items):
        return Counter(
            (
                item,
                ln.redeemed_points,
                ln.discount,
                ln.earned_points,
                tuple(sorted(ln.rule_points.items())),
            )
            for ln, item in zip(result.lines, items, strict=True)
        )

    assert per_line(first, basket) == per_line(second, [basket[i] for i in order])


# --- step 0: coupons ---------------------------------------------------------------------------


@st.composite
def coupon_specs(draw):
    kind = draw(st.sampled_from(["discount_amount", "discount_percent", "free_product"]))
    include = draw(st.sampled_from([(), ("coffee",), ("pastry",), ("coffee", "drinks")]))
    if kind == "free_product" and not include:
        include = ("coffee",)
    return engine.CouponSpec(
        code=draw(st.sampled_from(["A", "B", "C", "D"])),
        kind=kind,
        amount=draw(money(1, 100_000)) if kind == "discount_amount" else None,
        percent=D(draw(st.integers(1, 100))) if kind == "discount_percent" else None,
        max_amount=(
            draw(st.one_of(st.none(), money(1, 50_000))) if kind == "discount_percent" else None
        ),
        include=include,
    )


def _coupon_check(basket, coupons, redeem=None):
    return engine.CheckInput(
        lines=tuple(basket),
        now=check().now,
        outlet="msk-1",
        channel="offline",
        redeem=redeem,
        coupons=tuple(coupons),
    )


@settings(max_examples=150, deadline=None)
@given(
    spec=programs(),
    basket=st.lists(lines(), min_size=1, max_size=6),
    coupons=st.lists(coupon_specs(), max_size=4),
)
def test_coupons_never_exceed_a_line_and_their_shares_sum_exactly(spec, basket, coupons):
    result = engine.calculate(spec, state(available=10_000), _coupon_check(basket, coupons, "max"))
    for line_in, line_out in zip(basket, result.lines, strict=True):
        assert 0 <= line_out.coupon_discount <= line_in.amount
        assert line_out.discount <= line_in.amount - line_out.coupon_discount
    assert sum(line.coupon_discount for line in result.lines) == result.coupon_discount
    assert sum(c.discount for c in result.coupons) == result.coupon_discount
    for c in result.coupons:
        assert sum(c.line_discounts.values(), Decimal(0)) == c.discount
    assert result.payable == result.subtotal - result.coupon_discount - result.discount
    assert result.payable >= 0


@settings(max_examples=100, deadline=None)
@given(
    spec=programs(),
    basket=st.lists(lines(), min_size=1, max_size=6),
    coupons=st.lists(coupon_specs(), max_size=3),
    order=st.randoms(use_true_random=False),
)
def test_coupon_results_do_not_depend_on_line_order(spec, basket, coupons, order):
    shuffled = list(basket)
    order.shuffle(shuffled)
    customer = state(available=10_000)
    first = engine.calculate(spec, customer, _coupon_check(basket, coupons, "max"))
    second = engine.calculate(spec, customer, _coupon_check(shuffled, coupons, "max"))

    def per_line(lines_in, result):
        return Counter(
            (repr(line), out.coupon_discount, out.discount, out.earned_points)
            for line, out in zip(lines_in, result.lines, strict=True)
        )

    assert per_line(basket, first) == per_line(shuffled, second)
    assert [(c.code, c.status, c.discount) for c in first.coupons] == [
        (c.code, c.status, c.discount) for c in second.coupons
    ]
    assert (first.payable, first.earned_points) == (second.payable, second.earned_points)
