"""Step 4: a bonus once the matched lines reach an amount."""

from tests.rules.engine_builders import D, calc, line, points, program, row, rule, state

BIG = rule("big-check", "threshold", min_amount=D(3000), points=D(300))


def test_awarded_at_the_threshold_and_spread_by_paid_amount():
    result = calc(
        program(BIG), [line(qty=2, price="1000.00"), line("CAKE", "pastry", price="1000")]
    )
    big = row(result, "big-check")
    assert (big.points, big.reason) == (D(300), "300 for a check of 3000.00 or more")
    assert big.line_points == {0: D(200), 1: D(100)}


def test_not_awarded_below_the_threshold():
    assert "big-check" not in points(calc(program(BIG), [line(qty=2, price="1499.99")]))


def test_the_threshold_counts_the_amount_before_the_points_discount():
    result = calc(
        program(BIG), [line(qty=3, price="1000.00")], redeem=D(100), customer=state(available=1000)
    )
    assert "big-check" in points(result)


def test_lines_that_earn_nothing_do_not_count():
    lines = [line(qty=2, price="1000.00"), line("CIG", "tobacco", price="1000.00")]
    assert "big-check" not in points(calc(program(BIG), lines))


def test_include_limits_the_amount_to_the_set():
    coffee = rule("coffee-1000", "threshold", min_amount=D(1000), points=D(50), include=("coffee",))
    lines = [line(price="600.00"), line("CAKE", "pastry", price="600.00")]
    assert "coffee-1000" not in points(calc(program(coffee), lines))
