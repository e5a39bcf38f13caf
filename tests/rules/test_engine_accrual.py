"""Step 2 and what every rule shares: base accrual, rounding, budgets, exclusivity, reasons."""

from loyalty.rules import engine
from tests.rules.engine_builders import D, calc, line, points, program, row, rule, state


def test_base_accrual_is_the_tier_percent_of_the_paid_amount():
    result = calc(program(), [line(qty=2, price="250.00")], state(available=1000), redeem=D(100))
    base = row(result, "tier:base")
    assert (base.points, base.kind, base.reason) == (D(20), "tier", "5% of 400.00")
    assert base.reason_template == "%(percent)s%% of %(amount)s"
    assert base.reason_params == {"percent": "5", "amount": "400.00"}
    assert result.lines[0].rule_points == {"tier:base": D(20)}
    assert result.tier_code == "base"


def test_earn_on_redeemed_accrues_on_the_full_amount():
    spec = program(redemption={"earn_on_redeemed": True})
    result = calc(spec, [line(qty=2, price="250.00")], state(available=1000), redeem=D(100))
    assert result.earned_points == D(25)


def test_excluded_sets_and_promo_lines_earn_nothing_unless_allowed():
    lines = [line(), line("CIG", "tobacco"), line("CAKE", "pastry", promo=True)]
    assert points(calc(program(), lines)) == {"tier:base": D(10)}
    no_promo = program(accrual_promo_items=False)
    result = calc(no_promo, lines)
    assert points(result) == {"tier:base": D(5)}
    assert [ln.earned_points for ln in result.lines] == [D(5), D(0), D(0)]


def test_the_tier_held_before_the_check_earns():
    assert calc(program(), [line(qty=20)], state("gold")).earned_points == D(200)
    # An unknown or missing tier code falls back to the entry tier.
    assert calc(program(), [line(qty=20)], state(None)).earned_points == D(100)


def test_points_are_rounded_once_per_rule_down_by_default():
    # 3 lines of 33.33 at 5 % are 1.6665 each: 4.9995 → 4, not 1 + 1 + 1 = 3.
    lines = [line(s, price="33.33") for s in ("A", "B", "C")]
    result = calc(program(), lines)
    assert result.earned_points == D(4)
    assert sorted(ln.earned_points for ln in result.lines) == [D(1), D(1), D(2)]


def test_rounding_mode_and_precision_come_from_the_programme():
    lines = [line(price="33.33")]  # 1.6665
    assert calc(program(rounding="half_up"), lines).earned_points == D(2)
    assert calc(program(rounding="up"), lines).earned_points == D(2)
    assert calc(program(precision=2), lines).earned_points == D("1.66")
    assert calc(program(precision=2, rounding="half_up"), lines).earned_points == D("1.67")


def test_value_based_accrual_with_a_cheap_point():
    # 5 % of 100.00 is 5.00 of money; at 0.50 per point that is 10 points.
    assert calc(program(point_value=D("0.50")), [line()]).earned_points == D(10)


def test_budget_caps_the_award_and_says_so():
    bonus = rule("big", "threshold", min_amount=D(100), points=D(50), budget_left=D(30))
    result = calc(program(bonus), [line()])
    big = row(result, "big")
    assert big.points == D(30)
    assert big.reason == "50 for a check of 100.00 or more, limited by the budget"
    exhausted = rule("big", "threshold", min_amount=D(100), points=D(50), budget_left=D(0))
    assert "big" not in points(calc(program(exhausted), [line()]))


def test_rules_of_one_campaign_share_its_budget_within_a_check():
    # The provider gives each rule min(campaign left, rule left) = 40; together they get 40.
    first = rule("a", "threshold", min_amount=D(1), points=D(30), budget_left=D(40), campaign="c")
    second = rule("b", "first_purchase", points=D(30), budget_left=D(40), campaign="c")
    other = rule("z", "first_purchase", points=D(30), budget_left=D(40), campaign="d")
    result = calc(program(first, second, other), [line()], state(purchases=0))
    got = points(result)
    assert got["a"] + got["b"] == D(40)
    assert got["z"] == D(30)


def test_higher_priority_spends_the_shared_budget_first():
    low = rule("a", "threshold", min_amount=D(1), points=D(30), budget_left=D(40), campaign="c")
    high = rule("b", "first_purchase", points=D(30), budget_left=D(40), campaign="c", priority=5)
    assert points(calc(program(low, high), [line()], state(purchases=0))) == {
        "tier:base": D(5),
        "b": D(30),
        "a": D(10),
    }


def test_exclusive_rule_suppresses_the_others_of_its_kind_only():
    a = rule("a", "threshold", min_amount=D(1), points=D(10), priority=1)
    b = rule("b", "threshold", min_amount=D(1), points=D(20), exclusive=True, priority=2)
    c = rule("c", "threshold", min_amount=D(1), points=D(30), exclusive=True, priority=0)
    other_kind = rule("d", "fixed_per_item", points=D(1))
    got = points(calc(program(a, b, c, other_kind), [line()]))
    assert got == {"tier:base": D(5), "b": D(20), "d": D(1)}


def test_an_exclusive_rule_that_does_not_match_suppresses_nothing():
    a = rule("a", "threshold", min_amount=D(1), points=D(10))
    b = rule("b", "threshold", min_amount=D(1000), points=D(20), exclusive=True, priority=9)
    assert points(calc(program(a, b), [line()]))["a"] == D(10)


def test_per_line_rule_points_sum_to_the_rule_and_lifetime_passes_through():
    bonus = rule("big", "threshold", min_amount=D(1), points=D(10), lifetime_days=30)
    lines = [line("A", price="100.00"), line("B", price="100.00"), line("C", price="100.00")]
    big = row(calc(program(bonus), lines), "big")
    assert sum(big.line_points.values()) == D(10) and big.lifetime_days == 30
    assert sorted(big.line_points.values()) == [D(3), D(3), D(4)]


def test_unknown_kinds_are_ignored():
    assert points(calc(program(rule("x", "lottery", points=D(5))), [line()])) == {"tier:base": D(5)}


def test_allocate_sums_exactly_and_handles_zero_weights():
    shares = engine.allocate(D(10), {0: D(1), 1: D(1), 2: D(1)}, D(1))
    assert sum(shares.values()) == D(10)
    assert sum(engine.allocate(D(7), {0: D(0), 1: D(0)}, D(1)).values()) == D(7)
    assert engine.allocate(D("0.05"), {0: D(2), 1: D(1)}, D("0.01")) == {0: D("0.03"), 1: D("0.02")}
