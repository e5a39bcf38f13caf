"""The admin simulator shows exactly what the till's calculation returns for the same basket."""

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse

from core.formatting import money_text, points_text
from loyalty.ledger import services
from loyalty.ledger.models import Operation
from loyalty.ledger.services import check_calculate
from loyalty.rules.engine import LineInput
from loyalty.rules.program_io import program_load
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")
SATURDAY = datetime(2026, 6, 13, 10, 30, tzinfo=MOSCOW)
BASKET = [
    ("LATTE", "coffee", "2", "250.00", False),
    ("CROISSANT", "bakery", "1", "180.00", False),
    ("MARLBORO", "tobacco", "1", "300.00", False),
    ("CAKE", "desserts", "1", "3000.00", True),
]


@pytest.fixture
def coffee():
    data = json.loads(
        (Path(settings.BASE_DIR) / "examples/programs/coffee.json").read_text(encoding="utf-8")
    )
    return program_load(data=data)


@pytest.fixture
def account(coffee):
    account = AccountFactory(
        program=coffee, tier=coffee.tiers.get(code="silver"), lifetime_visits=4
    )
    services.points_grant(
        account=account,
        points=Decimal("700"),
        source="test",
        idempotency_key="g1",
        now=SATURDAY - timedelta(days=1),
    )
    return account


def post(admin_client, program, **extra):
    data = {
        "program": program.pk,
        "tier": program.tiers.get(code="silver").pk,
        "outlet": program.outlets.get().pk,
        "at": SATURDAY.strftime("%Y-%m-%d %H:%M"),
        "available": "700",
        "purchases_count": "4",
        "segments": "",
        "redeem": "max",
        "lines-TOTAL_FORMS": str(len(BASKET) + 1),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, (sku, category, qty, price, promo) in enumerate(BASKET):
        data.update(
            {
                f"lines-{i}-sku": sku,
                f"lines-{i}-category": category,
                f"lines-{i}-quantity": qty,
                f"lines-{i}-price": price,
            }
        )
        if promo:
            data[f"lines-{i}-is_promo"] = "on"
    data.update(extra)
    return admin_client.post(reverse("admin:rules_program_simulator"), data)


def test_the_simulator_renders_the_same_numbers_as_check_calculate(admin_client, coffee, account):
    operations = Operation.objects.count()
    quote = check_calculate(
        program=coffee,
        outlet=coffee.outlets.get(),
        customer=account.customer,
        lines=[
            LineInput(
                sku=sku,
                category=category,
                quantity=Decimal(qty),
                price=Decimal(price),
                amount=Decimal(qty) * Decimal(price),
                is_promo=promo,
            )
            for sku, category, qty, price, promo in BASKET
        ],
        redeem="max",
        now=SATURDAY,
    )
    response = post(admin_client, coffee)
    assert response.status_code == 200
    simulation = response.context["simulation"]
    assert simulation is not None, (
        response.context["form"].errors,
        response.context["lines"].errors,
    )
    assert simulation.result == quote.result
    # The basket exercises the rules: silver's 10 %, ×2 on coffee on Saturday, the latte bonus,
    # the big-check bonus, the fifth visit, and redemption capped at 30 % without tobacco/promo.
    rules = {row.rule for row in quote.result.breakdown}
    assert {"tier:silver", "coffee-x2", "latte", "big-check", "fifth-visit"} <= rules
    assert quote.result.max_redeemable == Decimal("204")  # 30 % of 680 (no tobacco, no promo)

    html = response.content.decode()
    r = quote.result
    for value in (r.subtotal, r.discount, r.payable):
        assert f">{money_text(value, 'RUB')}</td>" in html
    for value in (r.max_redeemable, r.redeemed_points):
        assert f">{points_text(value, 0)}</td>" in html
    assert f'<td class="earned-points">{points_text(r.earned_points, 0)}</td>' in html
    names = {rule.code: rule.name for rule in coffee.earn_rules.all()}
    reasons = dict((row.rule, reason) for row, reason in simulation.reasons())
    assert reasons["tier:silver"] == "10% of 3,476.00"  # the admin's number format
    for row in r.breakdown:
        assert f'<td class="row-points text-right pr-2">{points_text(row.points, 0)}</td>' in html
        assert reasons[row.rule] in html
        if not row.rule.startswith("tier:"):
            assert f'<td class="row-rule pr-2">{names[row.rule] or row.rule}</td>' in html
    # Rules by their names, not their codes; lines numbered from 1.
    assert "tier:silver" not in html
    assert '<td class="line-number">1</td>' in html
    assert '<td class="line-number">0</td>' not in html
    assert Operation.objects.count() == operations  # nothing written


def test_the_simulator_shows_the_engines_refusals_on_the_field(admin_client, coffee):
    response = post(admin_client, coffee, redeem="5000")
    assert response.context["simulation"] is None
    assert response.context["form"].errors["redeem"]


def test_the_simulator_refuses_a_tier_of_another_programme(admin_client, coffee):
    other = program_load(
        data={
            "code": "other",
            "name": "Other",
            "tiers": [{"code": "x", "name": "X", "threshold": "0", "earn_percent": "1"}],
        }
    )
    response = post(admin_client, coffee, tier=other.tiers.get().pk)
    assert response.context["simulation"] is None
    assert "tier" in response.context["form"].errors


def test_the_simulator_page_opens_from_the_programme(admin_client, coffee):
    url = reverse("admin:rules_program_simulator")
    assert admin_client.get(url).status_code == 200
    response = admin_client.get(f"{url}?program={coffee.pk}")
    assert response.status_code == 200
    assert list(response.context["form"].fields["tier"].queryset) == list(coffee.tiers.all())
