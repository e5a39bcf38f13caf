"""Step 4: event bonuses (review, survey…): only for their event, never for a check."""

from tests.rules.engine_builders import D, calc, line, points, program, row, rule, state

REVIEW = rule("review", "event", event="review", points=D(50), limit_per_customer=1)


def test_the_event_earns_its_rule_and_nothing_else():
    other = rule("survey", "event", event="survey", points=D(20))
    result = calc(program(REVIEW, other), [], event="review")
    assert points(result) == {"review": D(50)}
    review = row(result, "review")
    assert review.reason == "50 for the event “review”"
    assert review.line_points == {} and result.lines == ()
    assert result.earned_points == D(50)


def test_a_check_never_earns_event_rules():
    assert "review" not in points(calc(program(REVIEW), [line()]))


def test_the_per_customer_limit_holds():
    used = state(rule_usage={"review": 1})
    assert points(calc(program(REVIEW), [], used, event="review")) == {}
