"""The engine benchmark command runs without a database and reports its figures."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from loyalty.rules import engine
from loyalty.rules.management.commands.benchmark import build_check, build_spec


def test_benchmark_prints_median_and_p95():
    out = StringIO()
    call_command("benchmark", runs=20, lines=5, rules=12, stdout=out)
    text = out.getvalue()
    assert "5 lines × 12 rules" in text and "median" in text and "p95" in text


def test_benchmark_rejects_too_few_runs():
    with pytest.raises(CommandError, match="--runs"):
        call_command("benchmark", runs=1)


def test_the_benchmark_basket_exercises_many_rules():
    spec, check = build_spec(rules=100, seed=7), build_check(lines=50, seed=7)
    state = engine.CustomerState(tier_code="base", available=Decimal(100_000))
    result = engine.calculate(spec, state, check)
    assert len(spec.rules) == 100 and len(check.lines) == 50
    assert len(result.breakdown) > 10 and result.redeemed_points > 0
