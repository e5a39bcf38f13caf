"""Step 4: fixed points for every whole unit of the matched lines."""

from tests.rules.engine_builders import D, calc, line, points, program, row, rule

LATTE = rule("latte", "fixed_per_item", points=D(10), include=("coffee",))


def test_points_per_item_with_reason():
    result = calc(program(LATTE), [line(qty=2, price="250.00"), line("CAKE", "pastry")])
    latte = row(result, "latte")
    assert (latte.points, latte.reason) == (D(20), "10 per item × 2")
    assert latte.reason_template == "%(points)s per item × %(items)s"
    assert latte.line_points == {0: D(20)}


def test_units_are_whole_so_weighed_goods_count_their_full_units():
    result = calc(program(LATTE), [line(qty="2.5"), line("BEANS", "coffee", qty="0.4")])
    assert row(result, "latte").points == D(20)
    assert row(result, "latte").line_points == {0: D(20)}


def test_split_over_lines_by_units():
    result = calc(program(LATTE), [line(qty=1), line("MOCHA", "coffee", qty=3)])
    assert row(result, "latte").line_points == {0: D(10), 1: D(30)}


def test_no_matching_line_no_row():
    assert "latte" not in points(calc(program(LATTE), [line("CAKE", "pastry")]))


def test_excluded_skus_of_a_set_do_not_count():
    pastry = rule("pastry", "fixed_per_item", points=D(5), include=("pastry",))
    result = calc(program(pastry), [line("CAKE", "pastry"), line("STALE", "pastry")])
    assert row(result, "pastry").points == D(5)
