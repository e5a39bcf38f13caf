"""Step 3: multipliers scale base accrual of matched lines; the highest factor wins."""

from tests.rules.engine_builders import D, calc, line, points, program, row, rule

LINES = [line(qty=2, price="100.00"), line("CAKE", "pastry", qty=1, price="100.00")]


def test_doubles_base_accrual_of_matched_lines_only():
    x2 = rule("coffee-x2", "multiplier", factor=D(2), include=("coffee",))
    result = calc(program(x2), LINES)
    assert points(result) == {"tier:base": D(15), "coffee-x2": D(10)}
    coffee_x2 = row(result, "coffee-x2")
    assert coffee_x2.reason == "×2 on coffee"
    assert coffee_x2.reason_params == {"factor": "2", "products": "coffee"}
    assert coffee_x2.line_points == {0: D(10)}
    assert result.lines[0].rule_points == {"tier:base": D(10), "coffee-x2": D(10)}


def test_highest_factor_wins_without_compounding():
    x2 = rule("x2", "multiplier", factor=D(2), priority=9)
    x3 = rule("x3", "multiplier", factor=D(3), include=("coffee",))
    got = points(calc(program(x2, x3), LINES))
    # Coffee: ×3 (base 10 → +20); pastry: ×2 (base 5 → +5). Not ×6.
    assert got == {"tier:base": D(15), "x3": D(20), "x2": D(5)}


def test_exclusive_multiplier_keeps_only_itself():
    x2 = rule("x2", "multiplier", factor=D(2), exclusive=True, priority=1)
    x3 = rule("x3", "multiplier", factor=D(3))
    assert points(calc(program(x2, x3), LINES)) == {"tier:base": D(15), "x2": D(15)}


def test_fractional_factor_and_all_products_reason():
    x15 = rule("x15", "multiplier", factor=D("1.5"))
    result = calc(program(x15), LINES)
    assert row(result, "x15").points == D(7)  # 15 × 0.5 = 7.5, rounded down once
    assert row(result, "x15").reason == "×1.5 on all products"


def test_factor_of_one_or_less_and_non_earning_lines_add_nothing():
    assert points(calc(program(rule("x1", "multiplier", factor=D(1))), LINES)) == {
        "tier:base": D(15)
    }
    tobacco = rule("t", "multiplier", factor=D(5), include=("tobacco",))
    assert "t" not in points(calc(program(tobacco), [line("CIG", "tobacco"), *LINES]))


def test_multiplier_respects_exclude_sets():
    x2 = rule("x2", "multiplier", factor=D(2), exclude=("pastry",))
    assert row(calc(program(x2), LINES), "x2").line_points == {0: D(10)}
