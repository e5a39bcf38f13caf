"""The per-process spec cache: keyed by Program.config_version, never serving a stale rule."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.rules import loader
from loyalty.rules.models import EarnRule, Program
from tests.factories import EarnRuleFactory, ProductSetFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def version(program) -> int:
    return Program.objects.get(pk=program.pk).config_version


@pytest.fixture
def program():
    program = ProgramFactory(code="cache")
    EarnRuleFactory(program=program, code="x", kind="fixed_per_item", points=Decimal(10))
    return program


def test_a_second_load_at_the_same_version_reads_nothing(program):
    loader.program_load(program)
    current = version(program)
    with CaptureQueriesContext(connection) as ctx:
        loaded = loader.program_load(program, version=current)
    assert len(ctx.captured_queries) == 0
    assert [r.code for r in loaded.spec.rules] == ["x"]


def test_every_configuration_change_raises_the_version_and_is_seen(program):
    first = loader.program_load(program)
    v0 = version(program)
    rule = EarnRule.objects.get(program=program, code="x")
    rule.points = Decimal(20)
    rule.save()
    assert version(program) > v0
    assert loader.program_load(program).spec.rules[0].points == Decimal(20)
    v1 = version(program)
    coffee = ProductSetFactory(program=program, code="coffee", categories=["coffee"])
    assert version(program) > v1
    v2 = version(program)
    rule.include.add(coffee)  # many-to-many links are configuration too
    assert version(program) > v2
    assert loader.program_load(program).spec.rules[0].include == ("coffee",)
    assert first.spec.rules[0].points == Decimal(10)  # what was handed out is never changed


def test_a_stale_programme_instance_never_sets_the_version_back(program):
    stale = Program.objects.get(pk=program.pk)
    EarnRuleFactory(program=program, code="y", kind="fixed_per_item", points=Decimal(1))
    before = version(program)
    stale.name = "renamed"
    stale.save()
    assert version(program) > before


def test_budgets_are_never_cached(program):
    EarnRuleFactory(
        program=program,
        code="b",
        kind="fixed_per_item",
        points=Decimal(5),
        budget_points=Decimal(100),
    )
    loaded = loader.program_load(program)
    assert {r.code: r.budget_left for r in loaded.spec.rules}["b"] == Decimal(100)
    before = version(program)
    EarnRule.objects.filter(program=program, code="b").update(budget_used=Decimal(60))
    assert version(program) == before  # spending is not a configuration change
    again = loader.program_load(program, version=before)
    assert {r.code: r.budget_left for r in again.spec.rules}["b"] == Decimal(40)
