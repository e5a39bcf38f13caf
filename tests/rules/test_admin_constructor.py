"""The constructor on one screen: percent fields, pickers of the programme's own, previews,
the simulator on a real customer, and bounded queries on the programme page."""

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from loyalty.ledger import services
from loyalty.ledger.services import check_calculate
from loyalty.rules.engine import LineInput
from loyalty.rules.forms import PercentField, TierForm
from loyalty.rules.models import Program
from loyalty.rules.preview import rule_preview, tier_preview
from loyalty.rules.program_io import program_load
from tests.factories import (
    AccountFactory,
    CustomerFactory,
    EarnRuleFactory,
    OutletFactory,
    ProductSetFactory,
    ProgramFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
MOSCOW = ZoneInfo("Europe/Moscow")
SATURDAY = datetime(2026, 6, 13, 10, 30, tzinfo=MOSCOW)


# --- percent fields --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("30", Decimal("0.3000")), ("12,5", Decimal("0.1250")), ("100", Decimal("1")), ("0", 0)],
)
def test_a_percent_is_typed_as_a_percent_and_stored_as_the_fraction(typed, stored):
    assert PercentField().clean(typed) == stored


@pytest.mark.parametrize(
    ("typed", "hint"),
    [("300", "type 30 for 30 %"), ("abc", "like 30 for 30 %"), ("12.345", "two decimal")],
)
def test_a_wrong_percent_says_what_to_type(typed, hint):
    form = TierForm(
        data={
            "program": ProgramFactory().pk,
            "rank": "0",
            "code": "t",
            "name": "T",
            "threshold": "0",
            "earn_percent": "5",
            "max_share": typed,
        }
    )
    assert not form.is_valid()
    assert hint in " ".join(form.errors["max_share"])


def test_a_stored_fraction_is_shown_as_a_percent(admin_client):
    tier = TierFactory(max_share=Decimal("0.3000"))
    form = TierForm(instance=tier)
    assert 'value="30"' in str(form["max_share"])
    # Through the admin: typed 30, stored 0.30, the programme file keeps the fraction.
    url = reverse("admin:rules_tier_change", args=[tier.pk])
    response = admin_client.post(
        url,
        {
            "program": tier.program_id,
            "rank": tier.rank,
            "code": tier.code,
            "name": tier.name,
            "threshold": "0",
            "earn_percent": "5",
            "max_share": "45",
            "perks": "",
        },
    )
    assert response.status_code == 302
    tier.refresh_from_db()
    assert tier.max_share == Decimal("0.45")


# --- pickers of the programme's own ----------------------------------------------------------


def test_a_new_programme_offers_no_other_programmes_parts(admin_client):
    other = ProgramFactory()
    ProductSetFactory(program=other, categories=["x"])
    OutletFactory(program=other)
    TierFactory(program=other)
    response = admin_client.get(reverse("admin:rules_program_add"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields["accrual_exclude"].queryset) == []
    for formset in response.context["inline_admin_formsets"]:
        for name, field in formset.formset.empty_form.fields.items():
            if hasattr(field, "queryset") and name not in ("id", "program"):
                assert list(field.queryset) == [], (formset.opts.model, name)


def test_a_programmes_inline_pickers_hold_only_its_own(admin_client):
    program, other = ProgramFactory(), ProgramFactory()
    own_set = ProductSetFactory(program=program, categories=["a"])
    ProductSetFactory(program=other, categories=["b"])
    own_outlet = OutletFactory(program=program)
    OutletFactory(program=other)
    own_tier = TierFactory(program=program)
    TierFactory(program=other)
    EarnRuleFactory(program=program)
    response = admin_client.get(reverse("admin:rules_program_change", args=[program.pk]))
    rules = next(
        f for f in response.context["inline_admin_formsets"] if f.opts.model.__name__ == "EarnRule"
    )
    form = rules.formset.forms[0]
    assert list(form.fields["include"].queryset) == [own_set]
    assert list(form.fields["outlets"].queryset) == [own_outlet]
    assert list(form.fields["tiers"].queryset) == [own_tier]
    assert [value for value, _ in form.fields["include"].widget.choices] == [own_set.pk]


# --- previews --------------------------------------------------------------------------------


def test_a_tier_preview_reads_as_a_sentence_with_the_right_plural():
    program = ProgramFactory(precision=0)
    tier = TierFactory(program=program, earn_percent=Decimal("5"))
    with translation.override("ru"):
        assert tier_preview(tier) == f"5{NBSP}% от 1{NBSP}000{NBSP}₽ = 50{NBSP}баллов"
        tier.earn_percent = Decimal("0.1")
        assert tier_preview(tier) == f"0,1{NBSP}% от 1{NBSP}000{NBSP}₽ = 1{NBSP}балл"
        tier.earn_percent = Decimal("0.3")
        assert tier_preview(tier).endswith(f"= 3{NBSP}балла")
    with translation.override("en"):
        tier.earn_percent = Decimal("5")
        assert tier_preview(tier) == f"5{NBSP}% of ₽1,000 = 50{NBSP}points"


def test_a_rule_preview_says_what_it_gives():
    program = ProgramFactory(precision=0)
    TierFactory(program=program, rank=0, earn_percent=Decimal("5"), name="Базовый")
    multiplier = EarnRuleFactory(program=program, kind="multiplier", points=None, factor=2)
    threshold = EarnRuleFactory(
        program=program, kind="threshold", min_amount=Decimal("3000"), points=Decimal("21")
    )
    nth = EarnRuleFactory(program=program, kind="nth_purchase", every=5, points=Decimal("100"))
    with translation.override("ru"):
        assert rule_preview(multiplier) == (
            f"×2 на уровне «Базовый»: 5{NBSP}% от 1{NBSP}000{NBSP}₽ = 50{NBSP}баллов, "
            f"с правилом 100{NBSP}баллов"
        )
        assert rule_preview(threshold) == f"Чек от 3{NBSP}000{NBSP}₽: +21{NBSP}балл"
        assert rule_preview(nth) == f"Покупки № 5, 10, 15…: +100{NBSP}баллов за каждую"


# --- the simulator on a real customer --------------------------------------------------------


@pytest.fixture
def coffee():
    data = json.loads(
        (Path(settings.BASE_DIR) / "examples/programs/coffee.json").read_text(encoding="utf-8")
    )
    return program_load(data=data)


BASKET = [("LATTE", "coffee", "2", "250.00"), ("CROISSANT", "bakery", "1", "180.00")]


def simulate(client, program, **extra):
    data = {
        "program": program.pk,
        "outlet": program.outlets.get().pk,
        "at": SATURDAY.strftime("%Y-%m-%d %H:%M"),
        "available": "0",
        "purchases_count": "0",
        "segments": "",
        "redeem": "max",
        "lines-TOTAL_FORMS": str(len(BASKET)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, (sku, category, qty, price) in enumerate(BASKET):
        data.update(
            {
                f"lines-{i}-sku": sku,
                f"lines-{i}-category": category,
                f"lines-{i}-quantity": qty,
                f"lines-{i}-price": price,
            }
        )
    data.update(extra)
    return client.post(reverse("admin:rules_program_simulator"), data)


def test_the_simulator_takes_a_real_customers_state_from_the_ledger(admin_client, coffee):
    customer = CustomerFactory(phone="+79991112233", card_number="CARD-77", last_name="Иванова")
    account = AccountFactory(
        program=coffee, customer=customer, tier=coffee.tiers.get(code="silver"), lifetime_visits=4
    )
    services.points_grant(
        account=account,
        points=Decimal("700"),
        source="test",
        idempotency_key="g1",
        now=SATURDAY - timedelta(days=1),
    )
    quote = check_calculate(
        program=coffee,
        outlet=coffee.outlets.get(),
        customer=customer,
        lines=[
            LineInput(sku=s, category=c, quantity=Decimal(q), price=Decimal(p))
            for s, c, q, p in BASKET
        ],
        redeem="max",
        now=SATURDAY,
    )
    for query in ("8 (999) 111-22-33", "CARD-77"):
        # The typed tier, balance and purchases (none, 0, 0) are ignored for a real customer.
        response = simulate(admin_client, coffee, customer=query)
        simulation = response.context["simulation"]
        assert simulation is not None, response.context["form"].errors
        assert simulation.state.tier_code == "silver"
        assert simulation.state.available == Decimal("700")
        assert simulation.state.purchases_count == 4
        assert simulation.result == quote.result
        html = response.content.decode()
        assert "Иванова" in html
        assert '<td class="customer-purchases">4</td>' in html


def test_the_simulator_says_when_nobody_has_the_phone(admin_client, coffee):
    response = simulate(admin_client, coffee, customer="+79990000000")
    assert response.context["simulation"] is None
    assert "No member" in " ".join(response.context["form"].errors["customer"])


# --- queries ---------------------------------------------------------------------------------


def _programme_with(n: int) -> Program:
    program = ProgramFactory()
    for i in range(n):
        TierFactory(program=program, rank=i, code=f"t{i}")
        OutletFactory(program=program)
        ProductSetFactory(program=program, categories=[f"c{i}"])
        rule = EarnRuleFactory(program=program, kind="multiplier", points=None, factor=2)
        rule.outlets.set(program.outlets.all())
        rule.tiers.set(program.tiers.all())
    return program


def _count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_programme_page_reads_a_bounded_number_of_queries(admin_client):
    small, big = _programme_with(1), _programme_with(6)
    url = lambda p: reverse("admin:rules_program_change", args=[p.pk])  # noqa: E731
    _count_queries(admin_client, url(small))  # warm caches (content types, sessions)
    assert _count_queries(admin_client, url(big)) == _count_queries(admin_client, url(small))


@pytest.mark.parametrize("name", ["program", "tier", "earnrule", "outlet", "productset"])
def test_constructor_lists_read_a_bounded_number_of_queries(admin_client, name):
    _programme_with(1)
    url = reverse(f"admin:rules_{name}_changelist")
    _count_queries(admin_client, url)
    few = _count_queries(admin_client, url)
    for _ in range(3):
        _programme_with(2)
    assert _count_queries(admin_client, url) == few


@pytest.mark.russian
def test_a_programme_reads_as_feminine_in_the_russian_list(admin_client):
    ProgramFactory(is_active=True)
    ProgramFactory(is_active=False)
    html = admin_client.get("/admin/rules/program/").content.decode()
    assert "Активна" in html
    assert "Остановлена" in html
    assert "Активен" not in html


@pytest.mark.russian
def test_the_programme_list_filters_by_state_in_words_that_agree(admin_client):
    running, stopped = ProgramFactory(code="run"), ProgramFactory(code="stop", is_active=False)
    url = "/admin/rules/program/"
    page = admin_client.get(url).content.decode()
    assert "Активна" in page and "Остановлена" in page and "активен" not in page
    shown = admin_client.get(url, {"state": "stopped"}).context["cl"].result_list
    assert [p.pk for p in shown] == [stopped.pk]
    shown = admin_client.get(url, {"state": "active"}).context["cl"].result_list
    assert running.pk in [p.pk for p in shown] and stopped.pk not in [p.pk for p in shown]
