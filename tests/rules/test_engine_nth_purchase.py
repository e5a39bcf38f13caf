"""Step 4: every Nth purchase; this check is purchase number purchases_count + 1."""

import pytest

from tests.rules.engine_builders import D, calc, line, points, program, row, rule, state

FIFTH = rule("fifth-visit", "nth_purchase", every=5, points=D(100))


@pytest.mark.parametrize(("before", "awarded"), [(4, True), (9, True), (5, False), (0, False)])
def test_every_fifth_purchase(before, awarded):
    result = calc(program(FIFTH), [line()], state(purchases=before))
    assert ("fifth-visit" in points(result)) is awarded


def test_reason_names_the_purchase():
    result = calc(program(FIFTH), [line()], state(purchases=9))
    assert row(result, "fifth-visit").reason == "100 for purchase no. 10 (every 5)"


def test_a_check_of_only_non_earning_lines_gets_nothing():
    assert "fifth-visit" not in points(
        calc(program(FIFTH), [line("CIG", "tobacco")], state(purchases=4))
    )
