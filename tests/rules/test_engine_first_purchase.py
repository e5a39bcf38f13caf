"""Step 4: a bonus on the customer's first purchase only."""

from tests.rules.engine_builders import D, calc, line, points, program, row, rule, state

WELCOME = rule("welcome", "first_purchase", points=D(200))


def test_first_purchase_gets_the_bonus():
    result = calc(
        program(WELCOME), [line(), line("CAKE", "pastry", price="300.00")], state(purchases=0)
    )
    welcome = row(result, "welcome")
    assert (welcome.points, welcome.reason) == (D(200), "200 for the first purchase")
    assert welcome.line_points == {0: D(50), 1: D(150)}


def test_later_purchases_do_not():
    assert "welcome" not in points(calc(program(WELCOME), [line()], state(purchases=1)))


def test_limit_per_customer_stops_a_repeat():
    once = rule("welcome", "first_purchase", points=D(200), limit_per_customer=1)
    used = state(purchases=0, rule_usage={"welcome": 1})
    assert "welcome" not in points(calc(program(once), [line()], used))
