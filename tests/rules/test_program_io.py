"""Programme import/export: the shipped examples round-trip, errors name the JSON path."""

import copy
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from core import errors
from loyalty.ledger.models import RuleAward
from loyalty.ledger.services import check_commit
from loyalty.rules.engine import LineInput
from loyalty.rules.models import Category, EarnRule, Outlet, ProductSet, Program, Tier
from loyalty.rules.program_io import program_dump, program_load
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db

EXAMPLES = Path(settings.BASE_DIR) / "examples" / "programs"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def load_fails(data) -> dict[str, list[str]]:
    with pytest.raises(errors.ValidationFailed) as exc:
        program_load(data=data)
    return exc.value.fields


def db_state():
    """Every configuration row, so 'nothing written' can be checked exactly."""
    return (
        list(Program.objects.values()),
        list(Tier.objects.values()),
        list(EarnRule.objects.values()),
        list(Outlet.objects.values()),
        list(ProductSet.objects.values()),
        list(Category.objects.values()),
    )


@pytest.mark.parametrize("name", ["coffee", "clinic", "retail"])
def test_examples_round_trip_exactly(name):
    data = example(name)
    program = program_load(data=data)
    assert program_dump(program=program) == data
    # load(dump(x)) == x: loading the dump again changes nothing.
    before = db_state()
    program_load(data=program_dump(program=program))
    assert db_state()[1:] == before[1:]
    assert program_dump(program=Program.objects.get(code=name)) == data


def test_coffee_example_is_the_design_programme():
    program = program_load(data=example("coffee"))
    assert program.name == "Кофейный клуб"
    assert program.redemption_policy.max_share == Decimal("0.30")
    assert [(t.code, t.rank, t.threshold, t.earn_percent) for t in program.tiers.all()] == [
        ("base", 0, Decimal("0"), Decimal("5")),
        ("silver", 1, Decimal("100000"), Decimal("10")),
        ("gold", 2, Decimal("200000"), Decimal("20")),
    ]
    x2 = program.earn_rules.get(code="coffee-x2")
    assert (x2.kind, x2.factor, x2.days_of_week) == ("multiplier", Decimal("2"), [6, 7])
    assert [ps.code for ps in x2.include.all()] == ["coffee"]
    assert [ps.code for ps in program.accrual_exclude.all()] == ["tobacco"]


def test_clinic_and_retail_examples_say_what_the_issue_asks():
    clinic = program_load(data=example("clinic"))
    tiers = {t.threshold: t.earn_percent for t in clinic.tiers.all()}
    assert tiers[Decimal("100000")] == Decimal("10")
    assert tiers[Decimal("200000")] == Decimal("20")
    assert clinic.redemption_policy.max_share == Decimal("0.30")

    retail = program_load(data=example("retail"))
    assert [t.earn_percent for t in retail.tiers.all()] == [Decimal("1")]
    assert [s.code for s in retail.accrual_exclude.all()] == ["tobacco"]
    assert [s.code for s in retail.redemption_policy.exclude.all()] == ["tobacco"]
    assert retail.redemption_policy.min_order_amount == Decimal("500")


def test_update_changes_in_place_and_removes_what_the_file_drops():
    program = program_load(data=example("coffee"))
    gold_pk = program.tiers.get(code="gold").pk
    data = example("coffee")
    data["tiers"] = [data["tiers"][0], data["tiers"][2]]  # silver goes, gold becomes rank 1
    data["tiers"][1]["threshold"] = "150000"
    data["earn_rules"] = [r for r in data["earn_rules"] if r["code"] != "latte"]
    data["outlets"] = [{"code": "msk-2", "name": "Арбат, 5", "channel": "offline"}]
    program_load(data=data)
    gold = Tier.objects.get(program=program, code="gold")
    assert (gold.pk, gold.rank, gold.threshold) == (gold_pk, 1, Decimal("150000"))
    assert not Tier.objects.filter(program=program, code="silver").exists()
    assert not EarnRule.objects.filter(program=program, code="latte").exists()
    # Outlets are never deleted (checks and API keys point at them), only deactivated.
    assert Outlet.objects.get(program=program, code="msk-1").is_active is False
    assert program_dump(program=program)["outlets"] == [
        {"code": "msk-1", "name": "Тверская, 1", "channel": "offline", "active": False},
        {"code": "msk-2", "name": "Арбат, 5", "channel": "offline"},
    ]


def test_a_tier_customers_hold_cannot_be_removed_and_nothing_changes():
    program = program_load(data=example("coffee"))
    AccountFactory(program=program, tier=program.tiers.get(code="silver"))
    before = db_state()
    data = example("coffee")
    data["name"] = "Renamed"
    data["tiers"] = [data["tiers"][0]]
    problems = load_fails(data)
    assert "tiers" in problems and "silver" in problems["tiers"][0]
    assert db_state() == before


def test_a_rule_that_awarded_points_is_deactivated_not_deleted(now):
    program = program_load(data=example("coffee"))
    check_commit(
        program=program,
        outlet=program.outlets.get(code="msk-1"),
        customer=CustomerFactory(),
        lines=[LineInput(sku="LATTE", category="coffee", price=Decimal("250"))],
        redeem=None,
        receipt_number="R-1",
        source="test",
        idempotency_key="R-1",
        now=now,
    )
    assert RuleAward.objects.filter(rule_code="latte").exists()
    data = example("coffee")
    data["earn_rules"] = [r for r in data["earn_rules"] if r["code"] != "latte"]
    program_load(data=data)
    rule = EarnRule.objects.get(program=program, code="latte")
    assert rule.is_active is False
    dumped = {r["code"]: r for r in program_dump(program=program)["earn_rules"]}
    assert dumped["latte"]["active"] is False


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda d: d["tiers"][1].update(threshold="lots"), "tiers[1].threshold"),
        (lambda d: d["tiers"][1].update(threshold=0.5), "tiers[1].threshold"),
        (lambda d: d["tiers"][2].update(max_share="1.5"), "tiers[2].max_share"),
        (lambda d: d["tiers"][1].update(colour="silver"), "tiers[1].colour"),
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d["points"].update(point_value="0"), "points.point_value"),
        (lambda d: d["points"].update(precision=3), "points.precision"),
        (lambda d: d["points"].pop("rounding") and d["points"].update(round="up"), "points.round"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
        (lambda d: d["redemption"].update(max_share="2"), "redemption.max_share"),
        (lambda d: d["redemption"].update(exclude=["alcohol"]), "redemption.exclude[0]"),
        (lambda d: d["accrual"].update(exclude=["alcohol"]), "accrual.exclude[0]"),
        (lambda d: d["earn_rules"][1].update(factor="1"), "earn_rules[1].factor"),
        (lambda d: d["earn_rules"][1].pop("factor"), "earn_rules[1].factor"),
        (lambda d: d["earn_rules"][2].update(every=1), "earn_rules[2].every"),
        (lambda d: d["earn_rules"][0].update(points="10.5"), "earn_rules[0].points"),
        (lambda d: d["earn_rules"][0].update(factor="2"), "earn_rules[0].factor"),
        (lambda d: d["earn_rules"][3].update(include=["cakes"]), "earn_rules[3].include[0]"),
        (lambda d: d["earn_rules"][3].update(tiers=["platinum"]), "earn_rules[3].tiers[0]"),
        (lambda d: d["earn_rules"][1].update(days_of_week=[0, 8]), "earn_rules[1].days_of_week"),
        (lambda d: d["earn_rules"][1].update(hours=["8-11"]), "earn_rules[1].hours"),
        (
            lambda d: d["earn_rules"][1].update(valid_from="2026-01-01T00:00"),
            "earn_rules[1].valid_from",
        ),
        (lambda d: d["earn_rules"][4].update(kind="lottery"), "earn_rules[4].kind"),
        (lambda d: d["earn_rules"][4].update(code="big-check"), "earn_rules[4].code"),
        (lambda d: d["outlets"][0].update(channel="pigeon"), "outlets[0].channel"),
        (lambda d: d["product_sets"][0].update(skus="LATTE"), "product_sets[0].skus"),
    ],
)
def test_invalid_values_are_rejected_with_their_path_and_nothing_is_written(mutate, path):
    data = example("coffee")
    mutate(data)
    before = db_state()
    problems = load_fails(data)
    assert path in problems, problems
    assert db_state() == before


def test_errors_on_update_leave_the_existing_programme_untouched():
    program_load(data=example("coffee"))
    before = db_state()
    data = example("coffee")
    data["name"] = "Changed"  # valid, and written first…
    data["tiers"][2]["name"] = "Платина"
    data["earn_rules"][2]["every"] = 0  # …but this is invalid, so all of it rolls back
    problems = load_fails(data)
    assert list(problems) == ["earn_rules[2].every"]
    assert db_state() == before


def test_every_problem_is_reported_at_once():
    data = example("coffee")
    data["tiers"][0]["threshold"] = "x"
    data["outlets"][0]["name"] = ""
    data["earn_rules"][1]["factor"] = 2.0
    problems = load_fails(data)
    assert {"tiers[0].threshold", "outlets[0].name", "earn_rules[1].factor"} <= set(problems)


def test_not_an_object_and_missing_keys():
    assert "$" in load_fails([1, 2])
    problems = load_fails({"name": "No code"})
    assert "code" in problems


def test_categories_nest_and_cycles_are_refused():
    data = example("retail")
    program = program_load(data=data)
    assert Category.objects.get(program=program, code="cigarettes").parent.code == "tobacco"
    bad = copy.deepcopy(data)
    bad["categories"][3]["parent"] = "cigarettes"  # tobacco ↔ cigarettes
    problems = load_fails(bad)
    assert any(p.startswith("categories[") and p.endswith(".parent") for p in problems)


def test_commands_load_and_dump(tmp_path):
    out = StringIO()
    call_command("load_program", str(EXAMPLES / "clinic.json"), stdout=out)
    assert "clinic" in out.getvalue()
    out = StringIO()
    call_command("dump_program", "clinic", stdout=out)
    assert json.loads(out.getvalue()) == example("clinic")

    bad = example("clinic")
    bad["tiers"][1]["threshold"] = "-5"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(CommandError, match=r"tiers\[1\]\.threshold"):
        call_command("load_program", str(path))
    with pytest.raises(CommandError, match="No programme"):
        call_command("dump_program", "nope")


# --- gross margin (campaign ROI in the reports) ---------------------------------------------------


def test_gross_margin_round_trips_and_is_dumped_only_when_set():
    data = example("coffee")
    assert "gross_margin" not in data
    program = program_load(data=data)
    assert program.gross_margin is None
    assert "gross_margin" not in program_dump(program=program)
    program = program_load(data={**data, "gross_margin": "0.35"})
    assert program.gross_margin == Decimal("0.35")
    assert program_dump(program=program)["gross_margin"] == "0.35"
    # Absent means null again: the file is the whole definition.
    assert program_load(data=data).gross_margin is None


@pytest.mark.parametrize("value", ["1.5", "-0.1", "abc", 0.35, True])
def test_gross_margin_invalid_is_named_and_nothing_written(value):
    data = example("coffee")
    before = db_state()
    fields = load_fails({**data, "gross_margin": value})
    assert list(fields) == ["gross_margin"]
    assert db_state() == before


def test_gross_margin_too_precise_is_named():
    fields = load_fails({**example("coffee"), "gross_margin": "0.123456"})
    assert "gross_margin" in fields


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "Must be 1 or more."), (1441, "Must be 1440 (a day) or less."), ("15", "whole number")],
)
def test_reservation_minutes_is_validated_by_path(value, message):
    data = example("coffee")
    data["points"]["reservation_minutes"] = value
    fields = load_fails(data)
    assert any(message in m for m in fields["points.reservation_minutes"]), fields
    assert not Program.objects.exists()


def test_reservation_minutes_defaults_to_15_and_loads():
    data = example("coffee")
    del data["points"]["reservation_minutes"]
    assert program_load(data=data).reservation_minutes == 15
    data["points"]["reservation_minutes"] = 5
    assert program_load(data=data).reservation_minutes == 5


# --- the occurred_at window -----------------------------------------------------------------------


def test_occurred_at_window_round_trips_and_is_dumped_only_when_not_default():
    data = example("coffee")
    assert "occurred_at" not in data
    program = program_load(data=data)
    assert (program.occurred_at_past_days, program.occurred_at_future_minutes) == (30, 5)
    assert "occurred_at" not in program_dump(program=program)
    window = {"past_days": 3, "future_minutes": 60}
    program = program_load(data={**data, "occurred_at": window})
    assert (program.occurred_at_past_days, program.occurred_at_future_minutes) == (3, 60)
    dumped = program_dump(program=program)
    assert dumped["occurred_at"] == window
    assert program_dump(program=program_load(data=dumped)) == dumped
    # Absent means the defaults again: the file is the whole definition.
    assert program_load(data=data).occurred_at_past_days == 30


@pytest.mark.parametrize(
    "window, path",
    [
        ({"past_days": -1}, "occurred_at.past_days"),
        ({"past_days": "7"}, "occurred_at.past_days"),
        ({"past_days": 4000}, "occurred_at.past_days"),
        ({"future_minutes": 2000}, "occurred_at.future_minutes"),
        ({"future_minutes": 1.5}, "occurred_at.future_minutes"),
        ({"minutes": 5}, "occurred_at.minutes"),
    ],
)
def test_occurred_at_window_invalid_is_named_and_nothing_written(window, path):
    program_load(data=example("coffee"))
    before = db_state()
    fields = load_fails({**example("coffee"), "occurred_at": window})
    assert path in fields, fields
    assert db_state() == before
