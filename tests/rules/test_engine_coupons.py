"""Step 0: coupons, each kind with hand-computed numbers (docs/programme-format.md)."""

from decimal import Decimal

from loyalty.rules import engine
from tests.rules.engine_builders import NOW, D, calc, line, points, program, rule, state


def coupon(code="K7Q2-9XPA", kind="discount_amount", **fields) -> engine.CouponSpec:
    return engine.CouponSpec(code=code, kind=kind, reward=fields.pop("reward", "r"), **fields)


def run(spec, lines, coupons, customer=None, redeem=None):
    customer = state(available=1000) if customer is None else customer
    check = engine.CheckInput(
        lines=tuple(lines),
        now=NOW,
        outlet="msk-1",
        channel="offline",
        redeem=redeem,
        coupons=tuple(coupons),
    )
    return engine.calculate(spec, customer, check)


def shares(result, code):
    found = next(c for c in result.coupons if c.code == code)
    return dict(found.line_discounts)


def test_amount_is_spread_over_the_basket_by_amount_and_later_steps_see_the_rest():
    # 300 + 100; 100.00 off → 75.00 and 25.00; base 5 % of 300 = 15; redeem ≤ 30 % of 300.
    spec = program()
    lines = [line("LATTE", qty=2, price="150.00"), line("CAKE", "pastry", price="100.00")]
    result = run(spec, lines, [coupon(amount=D("100.00"))], redeem="max")
    assert shares(result, "K7Q2-9XPA") == {0: D("75.00"), 1: D("25.00")}
    assert result.subtotal == D("400.00")
    assert result.coupon_discount == D("100.00")
    assert result.max_redeemable == D(90)
    assert result.discount == D("90.00")
    assert result.payable == D("400.00") - D("100.00") - D("90.00")
    # 5 % of (300 − 90 points discount) = 10.5 → 10.
    assert points(result)["tier:base"] == D(10)
    assert [line.coupon_discount for line in result.lines] == [D("75.00"), D("25.00")]
    applied = result.coupons[0]
    assert (applied.status, applied.discount) == ("applied", D("100.00"))
    assert applied.reason == "100.00 off all products"
    assert result.breakdown[0].rule == "coupon:K7Q2-9XPA"
    assert result.breakdown[0].points == 0


def test_a_kopeck_left_over_goes_to_a_line_by_what_it_is_not_where_it_is():
    spec = program()
    lines = [line("C", "x"), line("A", "x"), line("B", "x")]
    result = run(spec, lines, [coupon(amount=D("100.00"))])
    assert shares(result, "K7Q2-9XPA") == {0: D("33.33"), 1: D("33.34"), 2: D("33.33")}


def test_amount_larger_than_the_lines_takes_them_to_zero_and_no_further():
    spec = program()
    result = run(spec, [line(price="40.00")], [coupon(amount=D("100.00"), include=("coffee",))])
    assert result.coupon_discount == D("40.00")
    assert result.payable == D("0.00")
    assert result.earned_points == 0


def test_percent_is_taken_off_each_covered_line_rounded_down():
    # 10 % of 255.55 = 25.555 → 25.55; of 100.00 → 10.00; the cake is not coffee.
    spec = program()
    lines = [
        line("LATTE", price="255.55"),
        line("MOCHA", "coffee", price="100.00"),
        line("CAKE", "pastry", price="100.00"),
    ]
    result = run(spec, lines, [coupon(kind="discount_percent", percent=D(10), include=("coffee",))])
    assert shares(result, "K7Q2-9XPA") == {0: D("25.55"), 1: D("10.00")}
    assert result.coupons[0].reason == "10% off coffee"
    assert result.payable == D("455.55") - D("35.55")


def test_percent_cap_applies_to_the_total_shared_by_largest_remainder():
    # 35.55 capped to 20.00 over 255.55 : 100.00 → 1437.49 and 562.51 kopecks → 14.37 and 5.63.
    spec = program()
    lines = [line("LATTE", price="255.55"), line("MOCHA", "coffee", price="100.00")]
    capped = coupon(kind="discount_percent", percent=D(10), max_amount=D("20.00"))
    result = run(spec, lines, [capped])
    assert shares(result, "K7Q2-9XPA") == {0: D("14.37"), 1: D("5.63")}
    assert result.coupon_discount == D("20.00")
    assert result.coupons[0].reason == "10% off all products, at most 20.00"


def test_free_product_takes_one_unit_of_the_cheapest_covered_line():
    # LATTE 2 × 250 (unit 250), MOCHA 3 × 120 (unit 120): one mocha free; the cake is cheaper
    # but not covered.
    spec = program()
    lines = [
        line("LATTE", qty=2, price="250.00"),
        line("MOCHA", "coffee", qty=3, price="120.00"),
        line("CAKE", "pastry", price="50.00"),
    ]
    result = run(spec, lines, [coupon(kind="free_product", include=("coffee",))])
    assert shares(result, "K7Q2-9XPA") == {1: D("120.00")}
    assert result.coupons[0].reason == "One Mocha free"
    # Base 5 % of (500 + 240 + 50) = 39.5 → 39.
    assert points(result)["tier:base"] == D(39)


def test_free_product_unit_is_the_line_amount_over_quantity_and_never_more_than_the_line():
    spec = program()
    discounted = line("LATTE", qty=3, price="100.00", amount="250.00")  # unit 83.333 → 83.33
    assert shares(
        run(spec, [discounted], [coupon(kind="free_product", include=("coffee",))]), "K7Q2-9XPA"
    ) == {0: D("83.33")}
    weighed = line("LATTE", qty="0.5", price="160.00")  # 80.00 for half a unit
    assert shares(
        run(spec, [weighed], [coupon(kind="free_product", include=("coffee",))]), "K7Q2-9XPA"
    ) == {0: D("80.00")}


def test_free_product_without_product_sets_and_uncovered_baskets_are_rejected():
    spec = program()
    result = run(
        spec,
        [line("CAKE", "pastry")],
        [
            coupon("A", kind="free_product"),
            coupon("B", kind="discount_percent", percent=D(10), include=("coffee",)),
        ],
    )
    assert [(c.status, c.reason) for c in result.coupons] == [
        ("rejected", "No line of this check is covered."),
        ("rejected", "No line of this check is covered."),
    ]
    assert result.coupon_discount == 0
    assert result.payable == D("100.00")


def test_gift_rejected_and_callers_rejection_and_duplicate_pass_through():
    spec = program()
    result = run(
        spec,
        [line()],
        [
            coupon("G", kind="gift"),
            coupon("U", rejected="This coupon has already been used.", amount=D(10)),
            coupon("A", amount=D(10)),
            coupon("A", amount=D(10)),
        ],
    )
    assert [(c.code, c.status) for c in result.coupons] == [
        ("G", "rejected"),
        ("U", "rejected"),
        ("A", "applied"),
        ("A", "rejected"),
    ]
    assert result.coupons[0].reason == "A gift is handed out by staff, not taken off a check."
    assert result.coupons[1].reason == "This coupon has already been used."
    assert result.coupons[3].reason == "The code is given twice."
    assert result.coupon_discount == D("10.00")


def test_coupons_apply_in_order_each_to_what_the_ones_before_left():
    # 200.00: 50.00 off, then 10 % of the 150.00 left = 15.00.
    spec = program()
    result = run(
        spec,
        [line(price="200.00")],
        [coupon("A", amount=D(50)), coupon("B", kind="discount_percent", percent=D(10))],
    )
    assert [c.discount for c in result.coupons] == [D("50.00"), D("15.00")]
    assert result.payable == D("135.00")


def test_minimum_order_for_redemption_is_judged_after_coupons():
    spec = program(redemption={"min_order_amount": D(500)})
    result = run(spec, [line(price="500.00")], [coupon(amount=D("100.00"))], redeem="max")
    assert result.max_redeemable == 0


def test_promo_code_switches_on_the_rules_that_require_it():
    bonus = rule("summer", "fixed_per_item", points=D(10), requires_code="SUMMER")
    spec = program(bonus)
    without = calc(spec, [line(qty=2)])
    assert "summer" not in points(without)
    with_code = run(spec, [line(qty=2)], [coupon("SUMMER", kind=engine.PROMO)])
    assert points(with_code)["summer"] == D(20)
    assert with_code.coupons[0].status == "applied"
    assert with_code.coupons[0].discount == 0
    other = run(spec, [line(qty=2)], [coupon("WINTER", kind=engine.PROMO)])
    assert "summer" not in points(other)


def test_rejected_promo_code_switches_nothing_on():
    bonus = rule("summer", "fixed_per_item", points=D(10), requires_code="SUMMER")
    spec = program(bonus)
    result = run(
        spec,
        [line()],
        [coupon("SUMMER", kind=engine.PROMO, rejected="This promo code has been used up.")],
    )
    assert "summer" not in points(result)
    assert result.coupons[0].status == "rejected"


def test_no_coupons_changes_nothing():
    spec = program()
    result = calc(spec, [line(price="100.00")])
    assert result.coupons == ()
    assert result.coupon_discount == Decimal("0")
    assert result.payable == D("100.00")
