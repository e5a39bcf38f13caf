"""Each earn rule kind validates its own parameters; the shared conditions and the other
configuration models refuse what the engine could not use, with the field named."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from loyalty.rules.models import Category, EarnRule, ProductSet, Program
from tests.factories import CategoryFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def rule(program=None, **values) -> EarnRule:
    return EarnRule(program=program or ProgramFactory(), code="r", **values)


def problems(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        obj.full_clean()
    return exc.value.message_dict


VALID = {
    "multiplier": {"factor": Decimal("2")},
    "fixed_per_item": {"points": Decimal("10")},
    "threshold": {"min_amount": Decimal("3000"), "points": Decimal("300")},
    "nth_purchase": {"every": 5, "points": Decimal("100")},
    "first_purchase": {"points": Decimal("500")},
    "event": {"event": "review", "points": Decimal("50")},
}


@pytest.mark.parametrize("kind", list(VALID))
def test_each_kind_accepts_its_parameters(kind):
    rule(kind=kind, **VALID[kind]).full_clean()


@pytest.mark.parametrize(
    "kind, values, field, words",
    [
        ("multiplier", {}, "factor", "multiplied"),
        ("multiplier", {"factor": Decimal("1")}, "factor", "greater than 1"),
        ("multiplier", {"factor": Decimal("0.5")}, "factor", "greater than 1"),
        ("multiplier", {"factor": Decimal("2"), "points": Decimal("5")}, "points", "does not use"),
        ("fixed_per_item", {}, "points", "each item"),
        ("fixed_per_item", {"points": Decimal("-1")}, "points", "greater than zero"),
        ("threshold", {"points": Decimal("300")}, "min_amount", "check amount"),
        ("threshold", {"min_amount": Decimal("0"), "points": Decimal("1")}, "min_amount", "zero"),
        ("threshold", {"min_amount": Decimal("3000")}, "points", "threshold"),
        ("nth_purchase", {"points": Decimal("100")}, "every", "every N-th"),
        ("nth_purchase", {"every": 1, "points": Decimal("100")}, "every", "2 or more"),
        ("nth_purchase", {"every": 5}, "points", "N-th purchase"),
        (
            "nth_purchase",
            {"every": 5, "points": Decimal("1"), "factor": Decimal("2")},
            "factor",
            "does not use",
        ),
        ("first_purchase", {}, "points", "first purchase"),
        ("first_purchase", {"points": Decimal("5"), "every": 3}, "every", "does not use"),
        ("event", {"points": Decimal("50")}, "event", "Name the event"),
        ("event", {"event": "review"}, "points", "event"),
        (
            "event",
            {"event": "review", "points": Decimal("5"), "min_amount": Decimal("1")},
            "min_amount",
            "does not use",
        ),
    ],
)
def test_each_kind_refuses_bad_parameters_naming_the_field(kind, values, field, words):
    found = problems(rule(kind=kind, **values))
    assert field in found, found
    assert words in " ".join(found[field])


def test_points_follow_the_programmes_precision():
    whole = ProgramFactory(precision=0)
    assert (
        "whole" in problems(rule(whole, kind="first_purchase", points=Decimal("2.5")))["points"][0]
    )
    cents = ProgramFactory(precision=2)
    rule(cents, kind="first_purchase", points=Decimal("2.5")).full_clean()


def test_an_unknown_kind_is_refused():
    assert "kind" in problems(rule(kind="lottery", points=Decimal("1")))


@pytest.mark.parametrize(
    "values, field",
    [
        ({"days_of_week": [0]}, "days_of_week"),
        ({"days_of_week": [8]}, "days_of_week"),
        ({"days_of_week": [6, 6]}, "days_of_week"),
        ({"days_of_week": ["sat"]}, "days_of_week"),
        ({"hours": ["8-11"]}, "hours"),
        ({"hours": ["25:00-26:00"]}, "hours"),
        ({"hours": ["10:00-10:00"]}, "hours"),
        ({"channels": ["pigeon"]}, "channels"),
        ({"segments": [""]}, "segments"),
        ({"segments": "vip"}, "segments"),
        ({"min_order_amount": Decimal("-1")}, "min_order_amount"),
        ({"budget_points": Decimal("0")}, "budget_points"),
        ({"limit_per_customer": 0}, "limit_per_customer"),
        ({"lifetime_days": 0}, "lifetime_days"),
        (
            {
                "valid_from": datetime(2026, 2, 1, tzinfo=UTC),
                "valid_until": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "valid_until",
        ),
    ],
)
def test_shared_conditions_are_validated(values, field):
    found = problems(rule(kind="first_purchase", points=Decimal("5"), **values))
    assert field in found, found


def test_good_conditions_pass():
    rule(
        kind="first_purchase",
        points=Decimal("5"),
        days_of_week=[6, 7],
        hours=["08:00-11:00", "22:00-02:00"],
        channels=["offline", "online"],
        segments=["vip"],
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=datetime(2026, 2, 1, tzinfo=UTC),
        budget_points=Decimal("1000"),
        limit_per_customer=1,
    ).full_clean()


def test_programme_refuses_unknown_zone_currency_and_region():
    program = Program(code="x", name="X", timezone="Mars/Olympus", currency="rub", region="XX")
    found = problems(program)
    assert {"timezone", "currency", "region"} <= set(found)


def test_product_set_needs_members_given_as_lists():
    program = ProgramFactory()
    assert "categories" in problems(ProductSet(program=program, code="empty"))
    assert "skus" in problems(ProductSet(program=program, code="s", skus="LATTE"))
    ProductSet(program=program, code="ok", categories=["coffee"]).full_clean()


def test_category_cannot_be_its_own_ancestor_or_cross_programmes():
    root = CategoryFactory(code="food")
    child = CategoryFactory(program=root.program, code="bakery", parent=root)
    root.parent = child
    assert "parent" in problems(root)
    stranger = Category(program=ProgramFactory(), code="x", name="X", parent=child)
    assert "parent" in problems(stranger)
