"""The constructor in the admin: a programme built through the forms, rule kinds, history."""

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from loyalty.rules.models import EarnRule, Program, Tier
from loyalty.rules.program_io import program_dump
from tests.factories import ProductSetFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db

INLINES = [
    "tiers",
    "redemption_policy",
    "outlets",
    "categories",
    "product_sets",
    "earn_rules",
    "rewards",
]


def formset(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def program_form(**inlines) -> dict:
    data = {
        "code": "clinic",
        "name": "Клиника",
        "currency": "RUB",
        "region": "RU",
        "timezone": "Europe/Moscow",
        "is_active": "on",
        "precision": "0",
        "rounding": "down",
        "point_value": "1.00",
        "lifetime_days": "365",
        "hold_days": "0",
        "allow_negative_after_refund": "on",
        "reservation_minutes": "15",
        "accrual_promo_items": "on",
        "tier_metric": "spend",
        "tier_period_days": "",
        "tier_grace_days": "0",
        "occurred_at_past_days": "30",
        "occurred_at_future_minutes": "5",
    }
    for prefix in INLINES:
        data.update(formset(prefix, inlines.get(prefix, [])))
    return data


def rule_row(**values) -> dict:
    row = {"code": "", "name": "", "kind": "", "is_active": "on", "priority": "0"}
    row.update(values)
    return row


def test_a_programme_is_built_through_the_admin_forms(admin_client):
    data = program_form(
        tiers=[
            {
                "rank": "0",
                "code": "patient",
                "name": "Пациент",
                "threshold": "0",
                "earn_percent": "3",
            },
            {
                "rank": "1",
                "code": "silver",
                "name": "Серебро",
                "threshold": "100000",
                "earn_percent": "10",
            },
            {
                "rank": "2",
                "code": "gold",
                "name": "Золото",
                "threshold": "200000",
                "earn_percent": "20",
            },
        ],
        redemption_policy=[
            {"max_share": "30", "min_order_amount": "0", "min_balance": "0"},
        ],
        outlets=[{"code": "main", "name": "Ленина, 10", "channel": "offline", "is_active": "on"}],
        product_sets=[{"code": "lab", "name": "Анализы", "categories": "lab, tests", "skus": ""}],
        earn_rules=[
            rule_row(code="first", kind="first_purchase", points="500"),
            # A value left in a field the kind hides is dropped, not an error.
            rule_row(code="review", kind="event", event="review", points="200", factor="3"),
        ],
    )
    response = admin_client.post(reverse("admin:rules_program_add"), data)
    assert response.status_code == 302, _errors(response)
    program = Program.objects.get(code="clinic")
    assert [(t.code, t.threshold, t.earn_percent) for t in program.tiers.all()] == [
        ("patient", Decimal("0"), Decimal("3")),
        ("silver", Decimal("100000"), Decimal("10")),
        ("gold", Decimal("200000"), Decimal("20")),
    ]
    assert program.redemption_policy.max_share == Decimal("0.30")
    assert program.product_sets.get().categories == ["lab", "tests"]
    review = program.earn_rules.get(code="review")
    assert (review.kind, review.event, review.points, review.factor) == (
        "event",
        "review",
        Decimal("200"),
        None,
    )

    # A multiplier through the rule's own page, with the programme's product set and tier.
    lab = program.product_sets.get()
    silver = program.tiers.get(code="silver")
    response = admin_client.post(
        reverse("admin:rules_earnrule_add"),
        rule_form(
            program,
            code="lab-x2",
            kind="multiplier",
            factor="2",
            include=[lab.pk],
            tiers=[silver.pk],
            days_of_week=["6", "7"],
            hours="08:00-11:00, 18:00-20:00",
            channels=["offline"],
        ),
    )
    assert response.status_code == 302, _errors(response)
    rule = EarnRule.objects.get(code="lab-x2")
    assert rule.days_of_week == [6, 7]
    assert rule.hours == ["08:00-11:00", "18:00-20:00"]
    assert rule.channels == ["offline"]
    assert list(rule.include.all()) == [lab]
    assert list(rule.tiers.all()) == [silver]

    # The programme page shows the rules it holds and the simulator button.
    response = admin_client.get(reverse("admin:rules_program_change", args=[program.pk]))
    assert response.status_code == 200
    assert reverse("admin:rules_program_simulator") in response.content.decode()


def rule_form(program, **values) -> dict:
    data = {
        "program": program.pk,
        "code": "",
        "name": "",
        "description": "",
        "kind": "",
        "is_active": "on",
        "priority": "0",
        "hours": "",
        "segments": "",
    }
    data.update(values)
    return data


def _errors(response):
    if response.context is None:
        return response.status_code
    found = {}
    if "adminform" in response.context:
        found["form"] = response.context["adminform"].form.errors
        found["inlines"] = [
            (f.formset.prefix, f.formset.errors, f.formset.non_form_errors())
            for f in response.context["inline_admin_formsets"]
        ]
    return found


@pytest.mark.parametrize(
    "values, field, words",
    [
        ({"kind": "threshold", "points": "100"}, "min_amount", "amount"),
        ({"kind": "threshold", "min_amount": "3000"}, "points", "points"),
        ({"kind": "multiplier", "factor": "1"}, "factor", "greater than 1"),
        ({"kind": "multiplier"}, "factor", "factor"),
        ({"kind": "nth_purchase", "every": "1", "points": "10"}, "every", "2 or more"),
        ({"kind": "fixed_per_item", "points": "0"}, "points", "greater than zero"),
        ({"kind": "fixed_per_item", "points": "2.5"}, "points", "whole"),
        ({"kind": "event", "points": "50"}, "event", "event"),
        ({"kind": "first_purchase", "points": "5", "hours": "8-11"}, "hours", "08:00-11:00"),
        (
            {
                "kind": "first_purchase",
                "points": "5",
                "valid_from_0": "2026-02-01",
                "valid_from_1": "00:00",
                "valid_until_0": "2026-01-01",
                "valid_until_1": "00:00",
            },
            "valid_until",
            "end after",
        ),
    ],
)
def test_rule_form_validates_the_kind_and_names_the_field(admin_client, values, field, words):
    program = ProgramFactory()
    response = admin_client.post(
        reverse("admin:rules_earnrule_add"), rule_form(program, code="r", **values)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not EarnRule.objects.exists()


def test_rule_form_refuses_another_programmes_product_set(admin_client):
    program = ProgramFactory()
    foreign = ProductSetFactory(categories=["x"])
    response = admin_client.post(
        reverse("admin:rules_earnrule_add"),
        rule_form(program, code="r", kind="fixed_per_item", points="5", include=[foreign.pk]),
    )
    assert response.status_code == 200
    assert "include" in response.context["adminform"].form.errors


def test_kind_select_carries_the_parameters_each_kind_shows(admin_client):
    response = admin_client.get(reverse("admin:rules_earnrule_add"))
    html = response.content.decode()
    assert "earn_rule_kind.js" in html
    assert "data-kind-params" in html
    params = response.context["adminform"].form.fields["kind"].widget.attrs["data-kind-params"]
    assert json.loads(params)["threshold"] == ["min_amount", "points"]


def test_changes_are_recorded_with_who_and_when(admin_client):
    tier = TierFactory(code="silver", earn_percent=Decimal("5"))
    url = reverse("admin:rules_tier_change", args=[tier.pk])
    response = admin_client.post(
        url,
        {
            "program": tier.program.pk,
            "code": "silver",
            "name": "Серебро",
            "rank": tier.rank,
            "threshold": "100000",
            "earn_percent": "10",
            "max_share": "",
            "perks": "",
        },
    )
    assert response.status_code == 302, _errors(response)
    latest = Tier.history.filter(id=tier.pk).latest("history_date")
    assert latest.history_user == get_user_model().objects.get(username="admin")
    assert latest.earn_percent == Decimal("10")
    assert latest.history_type == "~"
    page = admin_client.get(reverse("admin:rules_tier_history", args=[tier.pk]))
    assert page.status_code == 200
    assert "Серебро" in page.content.decode() or "silver" in page.content.decode()

    response = admin_client.post(
        reverse("admin:rules_earnrule_add"),
        rule_form(tier.program, code="big", kind="threshold", min_amount="3000", points="300"),
    )
    assert response.status_code == 302
    rule = EarnRule.objects.get(code="big")
    assert rule.history.get().history_user.username == "admin"
    assert (
        admin_client.get(reverse("admin:rules_program_history", args=[tier.program.pk])).status_code
        == 200
    )


def test_export_action_downloads_the_definition(admin_client):
    program = ProgramFactory(code="coffee")
    TierFactory(program=program, code="base")
    response = admin_client.post(
        reverse("admin:rules_program_changelist"),
        {"action": "export_json", "_selected_action": [program.pk]},
    )
    assert response.status_code == 200
    assert json.loads(response.content) == program_dump(program=program)


@pytest.mark.parametrize(
    "name",
    ["program", "tier", "outlet", "category", "productset", "redemptionpolicy", "earnrule"],
)
def test_every_constructor_list_renders(admin_client, name):
    ProgramFactory()
    assert admin_client.get(reverse(f"admin:rules_{name}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:rules_{name}_add")).status_code == 200


def test_the_occurred_at_window_is_set_in_the_constructor(admin_client):
    data = program_form()
    data.update({"occurred_at_past_days": "7", "occurred_at_future_minutes": "15"})
    response = admin_client.post(reverse("admin:rules_program_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    program = Program.objects.get(code="clinic")
    assert (program.occurred_at_past_days, program.occurred_at_future_minutes) == (7, 15)
    page = admin_client.get(reverse("admin:rules_program_change", args=[program.pk]))
    assert 'name="occurred_at_past_days"' in page.content.decode()

    data.update({"code": "clinic2", "occurred_at_future_minutes": "5000"})
    response = admin_client.post(reverse("admin:rules_program_add"), data)
    assert response.status_code == 200
    assert "occurred_at_future_minutes" in response.context["adminform"].form.errors
    assert not Program.objects.filter(code="clinic2").exists()
